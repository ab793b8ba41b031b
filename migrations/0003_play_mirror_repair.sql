-- The OrgAllocator's D1 mirror marks rows it had to repair (issue 20): how, and when.
ALTER TABLE `play_sessions` ADD `mirror_repair` text;--> statement-breakpoint
ALTER TABLE `play_sessions` ADD `mirror_repaired_at` text;
