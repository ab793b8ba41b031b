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
CREATE TABLE `recording_pins` (
	`recording_id` integer NOT NULL,
	`user_id` integer NOT NULL,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	PRIMARY KEY(`recording_id`, `user_id`),
	FOREIGN KEY (`recording_id`) REFERENCES `recordings`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `recording_pins_user_idx` ON `recording_pins` (`user_id`);
