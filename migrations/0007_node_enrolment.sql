-- Issue 15: node enrolment codes and node-token rollover (hand-written; matches src/db/schema.ts).
ALTER TABLE `cluster_nodes` ADD `previous_token_hash` text;--> statement-breakpoint
ALTER TABLE `cluster_nodes` ADD `token_rollover_at` text;--> statement-breakpoint
CREATE UNIQUE INDEX `cluster_nodes_previous_token_hash_uq` ON `cluster_nodes` (`previous_token_hash`);--> statement-breakpoint
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
CREATE INDEX `node_enrolment_codes_node_idx` ON `node_enrolment_codes` (`node_id`);
