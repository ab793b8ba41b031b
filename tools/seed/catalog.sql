-- Demo catalog for `npm start`: idempotent (INSERT OR IGNORE / keyed by slug), so a second start
-- neither fails nor duplicates. Accounts, memberships, covers, nodes, libraries and DVR
-- subscriptions are seeded through the API by tools/seed.mjs, exactly as a client would.
INSERT OR IGNORE INTO orgs (slug, name) VALUES ('default', 'CouchSuite Default'), ('acme', 'Acme Corp');

INSERT OR IGNORE INTO games (slug, name, description, rating) VALUES
  ('counter-strike-2', 'Counter-Strike 2', 'Round-based tactical shooter: plant, defuse, repeat.', 4.3),
  ('dota-2', 'Dota 2', 'Five-versus-five battles of heroes, lanes and ancients.', 4.1),
  ('pubg-battlegrounds', 'PUBG: BATTLEGROUNDS', 'One hundred players, one island, one winner.', 3.6),
  ('apex-legends', 'Apex Legends', 'Squad battle royale with legends and their abilities.', 3.9),
  ('rust', 'Rust', 'Survive, build and raid in a harsh open world.', 4.2),
  ('baldurs-gate-3', 'Baldur''s Gate 3', 'A party-based role-playing epic of choices and dice.', 4.9),
  ('naraka-bladepoint', 'NARAKA: BLADEPOINT', 'Melee-first battle royale with grappling hooks.', 3.8),
  ('marvel-rivals', 'Marvel Rivals', 'Team shooter with destructible arenas.', 4.0),
  ('helldivers-2', 'HELLDIVERS 2', 'Co-op shooter: spread managed democracy across the galaxy.', 4.4),
  ('steam_big_picture', 'Steam Big Picture', 'Launch your Steam library in Big Picture mode.', 4.5),
  ('retro_arcade', 'Retro Arcade Classics', 'Stream curated retro arcade experiences.', 4.7);

INSERT OR IGNORE INTO game_external_ids (game_id, platform, external_id)
WITH v(slug, appid) AS (VALUES
  ('counter-strike-2', '730'), ('dota-2', '570'), ('pubg-battlegrounds', '578080'),
  ('apex-legends', '1172470'), ('rust', '252490'), ('baldurs-gate-3', '1086940'),
  ('naraka-bladepoint', '1203220'), ('marvel-rivals', '2767030'), ('helldivers-2', '553850'),
  ('steam_big_picture', '1593500')
)
SELECT g.id, 'steam', v.appid FROM v JOIN games g ON g.slug = v.slug;

INSERT OR IGNORE INTO game_external_ids (game_id, platform, external_id)
SELECT id, 'arcade', 'arcade-group-2024' FROM games WHERE slug = 'retro_arcade';

INSERT OR IGNORE INTO game_ratings (game_id, source, score, details)
SELECT id, 'edgeplane-demo', rating, '{"votes":1200}' FROM games
WHERE slug IN ('counter-strike-2', 'baldurs-gate-3', 'helldivers-2')
  AND NOT EXISTS (SELECT 1 FROM game_ratings r WHERE r.game_id = games.id);

INSERT OR IGNORE INTO apps (id, name, moonlight_name, enabled, sort_order) VALUES
  ('steam_big_picture', 'Steam Big Picture', 'Steam Big Picture', 1, 1),
  ('switch_emulator', 'Switch Emulator', 'Switch Emulator', 1, 2),
  ('retro_arcade', 'Retro Arcade', 'Retro Arcade', 1, 3),
  ('moonlight_desktop', 'Desktop', 'Desktop', 1, 4);

-- One complete day of the Top 10 (a day is complete or absent).
INSERT OR IGNORE INTO charts_top10 (chart_date, rank, name, steam_appid, game_id, source, current_players, peak_players, hours_played)
WITH v(rank, slug, cur, peak, hours) AS (VALUES
  (1, 'counter-strike-2', 1342011, 1862531, 781234567), (2, 'dota-2', 612455, 902101, 421009876),
  (3, 'pubg-battlegrounds', 401223, 802345, 198765432), (4, 'marvel-rivals', 150876, 480112, 99123456),
  (5, 'apex-legends', 140332, 210554, 88012345), (6, 'rust', 132098, 190876, 87543210),
  (7, 'naraka-bladepoint', 120554, 190223, 65432109), (8, 'helldivers-2', 98123, 150998, 54321098),
  (9, 'baldurs-gate-3', 87011, 120443, 49876543), (10, 'steam_big_picture', 65001, 90123, 23456789)
)
SELECT '2026-11-21', v.rank, g.name, CAST(x.external_id AS INTEGER), g.id, 'steamcharts', v.cur, v.peak, v.hours
FROM v JOIN games g ON g.slug = v.slug
LEFT JOIN game_external_ids x ON x.game_id = g.id AND x.platform = 'steam';
