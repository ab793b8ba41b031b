ALTER TABLE `auth_sessions` ADD `successor_id` text;--> statement-breakpoint
ALTER TABLE `auth_sessions` ADD `successor_sealed` text;
