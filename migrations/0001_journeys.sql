CREATE TABLE `device_authorizations` (
	`id` text PRIMARY KEY NOT NULL,
	`device_code_hash` text NOT NULL,
	`user_code` text NOT NULL,
	`client_name` text,
	`ip` text,
	`country` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`user_id` integer,
	`org_id` integer,
	`interval_seconds` integer DEFAULT 5 NOT NULL,
	`last_polled_at` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	`decided_at` text,
	`exchanged_at` text,
	`session_id` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`session_id`) REFERENCES `auth_sessions`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "device_authorizations_status_ck" CHECK("device_authorizations"."status" IN ('pending', 'approved', 'denied', 'exchanged'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `device_authorizations_device_code_uq` ON `device_authorizations` (`device_code_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `device_authorizations_user_code_uq` ON `device_authorizations` (`user_code`);--> statement-breakpoint
CREATE INDEX `device_authorizations_user_idx` ON `device_authorizations` (`user_id`,`status`);--> statement-breakpoint
CREATE INDEX `device_authorizations_expires_idx` ON `device_authorizations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `device_pairing_throttle` (
	`key` text PRIMARY KEY NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`window_started_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `game_enrichment` (
	`game_id` integer PRIMARY KEY NOT NULL,
	`source` text DEFAULT 'steam' NOT NULL,
	`external_id` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`genres_json` text,
	`os_platforms_json` text,
	`release_date` text,
	`header_url` text,
	`capsule_url` text,
	`art_source_url` text,
	`requested_at` text NOT NULL,
	`fetched_at` text,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "game_enrichment_status_ck" CHECK("game_enrichment"."status" IN ('queued', 'done', 'not_found', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `game_enrichment_status_idx` ON `game_enrichment` (`status`);--> statement-breakpoint
CREATE TABLE `ingest_hosts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`enrol_code_hash` text,
	`enrol_expires_at` text,
	`token_hash` text,
	`created_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`enrolled_at` text,
	`revoked_at` text,
	`last_seen` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ingest_hosts_name_uq` ON `ingest_hosts` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `ingest_hosts_token_hash_uq` ON `ingest_hosts` (`token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `ingest_hosts_enrol_code_hash_uq` ON `ingest_hosts` (`enrol_code_hash`);--> statement-breakpoint
CREATE TABLE `ingest_parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`size` integer NOT NULL,
	`sha256` text NOT NULL,
	`etag` text NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`),
	FOREIGN KEY (`upload_id`) REFERENCES `ingest_uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `ingest_uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`recording_id` integer NOT NULL,
	`host_id` integer NOT NULL,
	`kind` text NOT NULL,
	`r2_key` text NOT NULL,
	`r2_upload_id` text NOT NULL,
	`size` integer NOT NULL,
	`part_size` integer NOT NULL,
	`sha256` text NOT NULL,
	`state` text DEFAULT 'open' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`host_id`) REFERENCES `ingest_hosts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ingest_uploads_recording_idx` ON `ingest_uploads` (`recording_id`,`kind`,`state`);--> statement-breakpoint
CREATE TABLE `metric_points` (
	`bucket` text NOT NULL,
	`name` text NOT NULL,
	`org_id` integer DEFAULT 0 NOT NULL,
	`labels` text DEFAULT '' NOT NULL,
	`value` real NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`bucket`, `name`, `org_id`, `labels`)
);
--> statement-breakpoint
CREATE INDEX `metric_points_name_bucket_idx` ON `metric_points` (`name`,`bucket`);--> statement-breakpoint
CREATE TABLE `node_enrolment_codes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`node_id` integer NOT NULL,
	`code_hash` text NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`issued_token_hash` text,
	`created_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`node_id`) REFERENCES `cluster_nodes`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `node_enrolment_codes_code_hash_uq` ON `node_enrolment_codes` (`code_hash`);--> statement-breakpoint
CREATE INDEX `node_enrolment_codes_node_idx` ON `node_enrolment_codes` (`node_id`);--> statement-breakpoint
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
CREATE INDEX `org_member_requests_digest_idx` ON `org_member_requests` (`username_digest`,`status`);--> statement-breakpoint
CREATE TABLE `recording_pins` (
	`recording_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`recording_id`, `user_id`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `recording_pins_user_idx` ON `recording_pins` (`user_id`);--> statement-breakpoint
CREATE TABLE `recording_sessions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_id` integer NOT NULL,
	`started_at` text NOT NULL,
	`ended_at` text,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `recording_sessions_source_started_idx` ON `recording_sessions` (`source_id`,`started_at`);--> statement-breakpoint
CREATE TABLE `recordings` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_id` integer NOT NULL,
	`session_id` integer,
	`segment` integer,
	`rel_path` text NOT NULL,
	`r2_key` text NOT NULL,
	`bytes` integer DEFAULT 0 NOT NULL,
	`duration_seconds` real,
	`started_at` text,
	`ended_at` text,
	`thumbnail_key` text,
	`thumbnail_bytes` integer,
	`state` text DEFAULT 'recording' NOT NULL,
	`host_id` integer,
	`sha256` text,
	`stored_at` text,
	`deleted_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`session_id`) REFERENCES `recording_sessions`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`host_id`) REFERENCES `ingest_hosts`(`id`) ON UPDATE no action ON DELETE set null,
	CONSTRAINT "recordings_state_ck" CHECK("recordings"."state" IN ('recording', 'uploading', 'stored', 'deleted'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `recordings_source_path_uq` ON `recordings` (`source_id`,`rel_path`);--> statement-breakpoint
CREATE INDEX `recordings_source_state_path_idx` ON `recordings` (`source_id`,`state`,`rel_path`);--> statement-breakpoint
CREATE INDEX `recordings_state_stored_idx` ON `recordings` (`state`,`stored_at`);--> statement-breakpoint
CREATE INDEX `recordings_session_idx` ON `recordings` (`session_id`);--> statement-breakpoint
CREATE TABLE `retention_policies` (
	`source_id` integer PRIMARY KEY NOT NULL,
	`keep_days` integer,
	`keep_gb` real,
	`keep_sessions` integer,
	`keep_forever` integer DEFAULT false NOT NULL,
	`updated_by` integer,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `auth_sessions` ADD `successor_id` text;--> statement-breakpoint
ALTER TABLE `auth_sessions` ADD `successor_sealed` text;--> statement-breakpoint
ALTER TABLE `cluster_nodes` ADD `previous_token_hash` text;--> statement-breakpoint
ALTER TABLE `cluster_nodes` ADD `token_rollover_at` text;--> statement-breakpoint
CREATE UNIQUE INDEX `cluster_nodes_previous_token_hash_uq` ON `cluster_nodes` (`previous_token_hash`);--> statement-breakpoint
ALTER TABLE `games` ADD `manual_fields` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `library_proofs` ADD `review_note` text;--> statement-breakpoint
ALTER TABLE `org_invites` ADD `revoked_at` text;--> statement-breakpoint
ALTER TABLE `org_invites` ADD `revoke_reason` text;--> statement-breakpoint
CREATE INDEX `org_invites_creator_idx` ON `org_invites` (`created_by`);--> statement-breakpoint
ALTER TABLE `play_sessions` ADD `mirror_repair` text;--> statement-breakpoint
ALTER TABLE `play_sessions` ADD `mirror_repaired_at` text;--> statement-breakpoint
CREATE INDEX `play_sessions_ended_idx` ON `play_sessions` (`ended_at`);--> statement-breakpoint
CREATE INDEX `openid_nonces_seen_idx` ON `openid_nonces` (`seen_at`);--> statement-breakpoint
CREATE INDEX `worker_events_ts_idx` ON `worker_events` (`ts`);