-- Per-scope change counters for cheap polls (issue 17 target 3): a list route answers 304 to an
-- If-None-Match that matches the versions of the scopes it depends on, reading only this table.
-- The triggers bump a scope in the same statement as the write that changes what a list shows, so
-- no writer (DVR routes, account deletion's cascade, the SourceMonitor mirror, seeds) can forget.
-- Scopes: 'subscriptions' (any subscription), 'user:<id>' (that user's subscriptions), 'sources'
-- (a source's listed runtime columns), 'config' (canonical URLs in lists), 'users' (the user
-- list), 'events:<source_id>' (a source's worker events).
CREATE TABLE `change_counters` (
	`scope` text PRIMARY KEY NOT NULL,
	`version` integer DEFAULT 0 NOT NULL
);
-- Seed rows and triggers below are hand-written (drizzle-kit does not model triggers).
--> statement-breakpoint
INSERT INTO `change_counters` (`scope`, `version`) VALUES ('subscriptions', 0), ('sources', 0), ('config', 0), ('users', 0);
--> statement-breakpoint
CREATE TRIGGER `subscriptions_ai_counter` AFTER INSERT ON `subscriptions` BEGIN
	INSERT INTO `change_counters` (`scope`, `version`) VALUES ('user:' || NEW.`user_id`, 0) ON CONFLICT (`scope`) DO NOTHING;
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` IN ('subscriptions', 'user:' || NEW.`user_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `subscriptions_au_counter` AFTER UPDATE ON `subscriptions` BEGIN
	INSERT INTO `change_counters` (`scope`, `version`) VALUES ('user:' || NEW.`user_id`, 0), ('user:' || OLD.`user_id`, 0) ON CONFLICT (`scope`) DO NOTHING;
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` IN ('subscriptions', 'user:' || NEW.`user_id`, 'user:' || OLD.`user_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `subscriptions_ad_counter` AFTER DELETE ON `subscriptions` BEGIN
	INSERT INTO `change_counters` (`scope`, `version`) VALUES ('user:' || OLD.`user_id`, 0) ON CONFLICT (`scope`) DO NOTHING;
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` IN ('subscriptions', 'user:' || OLD.`user_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `sources_au_counter` AFTER UPDATE ON `sources`
WHEN OLD.`worker_state` IS NOT NEW.`worker_state` OR OLD.`pid` IS NOT NEW.`pid` OR OLD.`recording_state` IS NOT NEW.`recording_state`
	OR OLD.`session_active` IS NOT NEW.`session_active` OR OLD.`session_started_at` IS NOT NEW.`session_started_at`
	OR OLD.`session_duration` IS NOT NEW.`session_duration` OR OLD.`last_heartbeat` IS NOT NEW.`last_heartbeat`
	OR OLD.`last_recording_at` IS NOT NEW.`last_recording_at` OR OLD.`error_message` IS NOT NEW.`error_message`
	OR OLD.`driver` IS NOT NEW.`driver` OR OLD.`username` IS NOT NEW.`username`
BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'sources';
END;
--> statement-breakpoint
CREATE TRIGGER `sources_ad_counter` AFTER DELETE ON `sources` BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'sources';
END;
--> statement-breakpoint
CREATE TRIGGER `config_ai_counter` AFTER INSERT ON `config` BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'config';
END;
--> statement-breakpoint
CREATE TRIGGER `config_au_counter` AFTER UPDATE ON `config` BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'config';
END;
--> statement-breakpoint
CREATE TRIGGER `users_ai_counter` AFTER INSERT ON `users` BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `users_au_counter` AFTER UPDATE ON `users`
WHEN OLD.`username_enc` IS NOT NEW.`username_enc` OR OLD.`role` IS NOT NEW.`role` OR OLD.`updated_at` IS NOT NEW.`updated_at`
BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `users_ad_counter` AFTER DELETE ON `users` BEGIN
	UPDATE `change_counters` SET `version` = `version` + 1 WHERE `scope` = 'users';
END;
--> statement-breakpoint
CREATE TRIGGER `worker_events_ai_counter` AFTER INSERT ON `worker_events` BEGIN
	INSERT INTO `change_counters` (`scope`, `version`) VALUES ('events:' || NEW.`source_id`, 1)
		ON CONFLICT (`scope`) DO UPDATE SET `version` = `version` + 1;
END;
