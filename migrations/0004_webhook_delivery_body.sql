-- A delivery log row keeps the event it delivers, so the housekeeping sweep can send again a delivery
-- whose Queue message was lost or refused (src/notifications/jobs.ts), once: `requeued_at` records that
-- one re-send, after which a still-unattempted row is failed as before. Rows written before this
-- migration have no event (NULL): the sweep can only fail them.
ALTER TABLE `webhook_deliveries` ADD `event_json` text;--> statement-breakpoint
ALTER TABLE `webhook_deliveries` ADD `requeued_at` text;