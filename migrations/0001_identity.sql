ALTER TABLE `auth_sessions` ADD `successor_id` text;--> statement-breakpoint
ALTER TABLE `auth_sessions` ADD `successor_sealed` text;
--> statement-breakpoint
ALTER TABLE `org_invites` ADD `revoked_at` text;--> statement-breakpoint
ALTER TABLE `org_invites` ADD `revoke_reason` text;--> statement-breakpoint
CREATE INDEX `org_invites_creator_idx` ON `org_invites` (`created_by`);--> statement-breakpoint
CREATE TABLE `org_member_requests` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`username_digest` text NOT NULL,
	`username_enc` text NOT NULL,
	`role` text DEFAULT 'member' NOT NULL,
	`requested_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`answered_at` text,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "org_member_requests_status_ck" CHECK("org_member_requests"."status" IN ('pending', 'accepted', 'declined', 'cancelled'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `org_member_requests_org_digest_uq` ON `org_member_requests` (`org_id`,`username_digest`);--> statement-breakpoint
CREATE INDEX `org_member_requests_digest_idx` ON `org_member_requests` (`username_digest`,`status`);
--> statement-breakpoint
CREATE INDEX `openid_nonces_seen_idx` ON `openid_nonces` (`seen_at`);--> statement-breakpoint
CREATE INDEX `play_sessions_ended_idx` ON `play_sessions` (`ended_at`);--> statement-breakpoint
CREATE INDEX `worker_events_ts_idx` ON `worker_events` (`ts`);
