CREATE TABLE `apps` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`moonlight_name` text NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`sort_order` integer DEFAULT 100 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`ts` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`actor_user_id` integer,
	`action` text NOT NULL,
	`target_type` text,
	`target_id` text,
	`org_id` integer,
	`ip` text,
	`request_id` text,
	`details` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_ts_idx` ON `audit_log` (`ts`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_idx` ON `audit_log` (`actor_user_id`,`ts`);--> statement-breakpoint
CREATE INDEX `audit_log_action_idx` ON `audit_log` (`action`,`ts`);--> statement-breakpoint
CREATE INDEX `audit_log_org_idx` ON `audit_log` (`org_id`,`ts`);--> statement-breakpoint
CREATE TABLE `auth_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`family_id` text NOT NULL,
	`user_id` integer NOT NULL,
	`token_hash` text NOT NULL,
	`client` text NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	`family_expires_at` text NOT NULL,
	`rotated_at` text,
	`revoked_at` text,
	`revoke_reason` text,
	`ip` text,
	`user_agent` text,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `auth_sessions_token_hash_uq` ON `auth_sessions` (`token_hash`);--> statement-breakpoint
CREATE INDEX `auth_sessions_family_idx` ON `auth_sessions` (`family_id`);--> statement-breakpoint
CREATE INDEX `auth_sessions_user_idx` ON `auth_sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `auth_sessions_expires_idx` ON `auth_sessions` (`family_expires_at`);--> statement-breakpoint
CREATE TABLE `chart_runs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`chart_date` text NOT NULL,
	`trigger` text NOT NULL,
	`source` text,
	`status` text NOT NULL,
	`error` text,
	`started_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`finished_at` text
);
--> statement-breakpoint
CREATE INDEX `chart_runs_date_idx` ON `chart_runs` (`chart_date`,`started_at`);--> statement-breakpoint
CREATE TABLE `charts_top10` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`chart_date` text NOT NULL,
	`rank` integer NOT NULL,
	`name` text NOT NULL,
	`steam_appid` integer,
	`game_id` integer,
	`source` text DEFAULT 'steamcharts' NOT NULL,
	`current_players` integer,
	`peak_players` integer,
	`hours_played` integer,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `charts_top10_date_rank_uq` ON `charts_top10` (`chart_date`,`rank`);--> statement-breakpoint
CREATE INDEX `idx_charts_date` ON `charts_top10` (`chart_date`);--> statement-breakpoint
CREATE TABLE `cluster_nodes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`name` text NOT NULL,
	`region` text,
	`capacity` integer,
	`status` text DEFAULT 'active',
	`stream_base_url` text,
	`token_hash` text,
	`last_seen` text,
	`agent_status` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cluster_nodes_org_name_uq` ON `cluster_nodes` (`org_id`,`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `cluster_nodes_token_hash_uq` ON `cluster_nodes` (`token_hash`);--> statement-breakpoint
CREATE TABLE `config` (
	`id` integer PRIMARY KEY NOT NULL,
	`data` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "config_single_row_ck" CHECK("config"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE `downloaded_games` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`node_id` integer NOT NULL,
	`game_id` integer NOT NULL,
	`install_path` text NOT NULL,
	`launcher` text,
	`executable` text,
	`proof_json` text,
	`last_seen` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`node_id`) REFERENCES `cluster_nodes`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `downloaded_games_org_node_game_uq` ON `downloaded_games` (`org_id`,`node_id`,`game_id`);--> statement-breakpoint
CREATE INDEX `downloaded_games_org_game_idx` ON `downloaded_games` (`org_id`,`game_id`);--> statement-breakpoint
CREATE INDEX `downloaded_games_node_idx` ON `downloaded_games` (`node_id`);--> statement-breakpoint
CREATE TABLE `game_external_ids` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`game_id` integer NOT NULL,
	`platform` text NOT NULL,
	`external_id` text NOT NULL,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `game_external_ids_game_platform_uq` ON `game_external_ids` (`game_id`,`platform`);--> statement-breakpoint
CREATE UNIQUE INDEX `game_external_ids_platform_external_uq` ON `game_external_ids` (`platform`,`external_id`);--> statement-breakpoint
CREATE TABLE `game_ratings` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`game_id` integer NOT NULL,
	`source` text,
	`score` real,
	`details` text,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `game_ratings_game_idx` ON `game_ratings` (`game_id`);--> statement-breakpoint
CREATE TABLE `games` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`rating` real,
	`cover_url` text,
	`cover_key` text,
	`is_stub` integer DEFAULT false NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `games_slug_uq` ON `games` (`slug`);--> statement-breakpoint
CREATE INDEX `games_name_idx` ON `games` (`name`);--> statement-breakpoint
CREATE TABLE `library_proofs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`entry_id` integer NOT NULL,
	`kind` text NOT NULL,
	`proof_json` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`verified_at` text,
	`reviewed_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`entry_id`) REFERENCES `user_game_library`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`reviewed_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `library_proofs_entry_kind_uq` ON `library_proofs` (`entry_id`,`kind`);--> statement-breakpoint
CREATE INDEX `library_proofs_status_idx` ON `library_proofs` (`status`);--> statement-breakpoint
CREATE TABLE `login_throttle` (
	`username_digest` text PRIMARY KEY NOT NULL,
	`failures` integer DEFAULT 0 NOT NULL,
	`window_started_at` text NOT NULL,
	`locked_until` text
);
--> statement-breakpoint
CREATE TABLE `memberships` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`role` text DEFAULT 'member' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "memberships_role_ck" CHECK("memberships"."role" IN ('owner', 'admin', 'member'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `memberships_org_user_uq` ON `memberships` (`org_id`,`user_id`);--> statement-breakpoint
CREATE INDEX `memberships_user_idx` ON `memberships` (`user_id`);--> statement-breakpoint
CREATE TABLE `openid_nonces` (
	`nonce` text PRIMARY KEY NOT NULL,
	`seen_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `org_invites` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`code_hash` text NOT NULL,
	`role` text DEFAULT 'member' NOT NULL,
	`created_by` integer,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`expires_at` text NOT NULL,
	`used_at` text,
	`used_by` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`used_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `org_invites_code_uq` ON `org_invites` (`code_hash`);--> statement-breakpoint
CREATE INDEX `org_invites_org_idx` ON `org_invites` (`org_id`);--> statement-breakpoint
CREATE TABLE `orgs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`slug` text NOT NULL,
	`name` text NOT NULL,
	`allocation_policy` text DEFAULT 'spread' NOT NULL,
	`max_sessions_per_user` integer DEFAULT 1 NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orgs_slug_uq` ON `orgs` (`slug`);--> statement-breakpoint
CREATE TABLE `platform_settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `play_sessions` (
	`id` integer PRIMARY KEY NOT NULL,
	`org_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`game_id` integer NOT NULL,
	`node_id` integer,
	`region` text,
	`status` text DEFAULT 'provisioning' NOT NULL,
	`end_reason` text,
	`idempotency_key` text,
	`last_client_seen` text,
	`last_node_seen` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`ended_at` text,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`node_id`) REFERENCES `cluster_nodes`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `play_sessions_org_status_idx` ON `play_sessions` (`org_id`,`status`);--> statement-breakpoint
CREATE INDEX `play_sessions_node_status_idx` ON `play_sessions` (`node_id`,`status`);--> statement-breakpoint
CREATE INDEX `play_sessions_user_status_idx` ON `play_sessions` (`user_id`,`status`);--> statement-breakpoint
CREATE TABLE `sources` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`driver` text NOT NULL,
	`username` text NOT NULL,
	`overseer_task_id` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`worker_state` text DEFAULT 'idle' NOT NULL,
	`pid` integer DEFAULT 0 NOT NULL,
	`recording_state` text,
	`session_active` integer DEFAULT false NOT NULL,
	`session_started_at` text,
	`session_duration` text,
	`last_heartbeat` text,
	`last_recording_at` text,
	`error_message` text,
	`runtime_updated_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sources_driver_username_uq` ON `sources` (`driver`,`username`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` integer NOT NULL,
	`source_id` integer NOT NULL,
	`posture` text DEFAULT 'active' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "subscriptions_posture_ck" CHECK("subscriptions"."posture" IN ('active', 'paused', 'archived'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `subscriptions_user_source_uq` ON `subscriptions` (`user_id`,`source_id`);--> statement-breakpoint
CREATE INDEX `subscriptions_source_posture_idx` ON `subscriptions` (`source_id`,`posture`);--> statement-breakpoint
CREATE TABLE `user_accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`platform` text NOT NULL,
	`account_id` text NOT NULL,
	`display_name` text,
	`metadata_json` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_accounts_org_user_platform_uq` ON `user_accounts` (`org_id`,`user_id`,`platform`);--> statement-breakpoint
CREATE INDEX `user_accounts_platform_account_idx` ON `user_accounts` (`platform`,`account_id`);--> statement-breakpoint
CREATE TABLE `user_apps` (
	`user_id` integer NOT NULL,
	`app_id` text NOT NULL,
	`installed` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`user_id`, `app_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `user_game_library` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`org_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`game_id` integer NOT NULL,
	`platform` text,
	`external_id` text,
	`ownership_source` text NOT NULL,
	`proof_type` text,
	`proof_value` text,
	`verified_at` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`game_id`) REFERENCES `games`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_game_library_org_user_game_uq` ON `user_game_library` (`org_id`,`user_id`,`game_id`);--> statement-breakpoint
CREATE INDEX `user_game_library_org_game_idx` ON `user_game_library` (`org_id`,`game_id`);--> statement-breakpoint
CREATE TABLE `user_settings` (
	`user_id` integer PRIMARY KEY NOT NULL,
	`settings_json` text DEFAULT '{}' NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`username_digest` text NOT NULL,
	`username_enc` text NOT NULL,
	`pass_hash` text NOT NULL,
	`role` text DEFAULT 'user' NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`updated_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	CONSTRAINT "users_role_ck" CHECK("users"."role" IN ('admin', 'user'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_digest_uq` ON `users` (`username_digest`);--> statement-breakpoint
CREATE TABLE `worker_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source_id` integer NOT NULL,
	`pid` integer DEFAULT 0 NOT NULL,
	`event_type` text NOT NULL,
	`exit_code` integer,
	`ts` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `worker_events_source_ts_idx` ON `worker_events` (`source_id`,`ts`);