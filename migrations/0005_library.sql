ALTER TABLE `games` ADD `manual_fields` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `library_proofs` ADD `review_note` text;--> statement-breakpoint
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
CREATE INDEX `game_enrichment_status_idx` ON `game_enrichment` (`status`);
