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
CREATE INDEX `metric_points_name_bucket_idx` ON `metric_points` (`name`,`bucket`);
