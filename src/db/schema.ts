/**
 * The D1 schema of both products, one place. `npm run db:generate` (drizzle-kit 0.31) turns changes
 * here into a numbered SQL file in `migrations/`, which `wrangler d1 migrations apply` and the test
 * harness both apply.
 *
 * Conventions: timestamps are ISO-8601 UTC text (`2026-11-22T01:58:01.374Z`) written by the app;
 * booleans are INTEGER 0/1 (`mode: 'boolean'`); JSON blobs are TEXT. Column names follow the seeds of
 * the contracts (`shared/contracts/*`), so legacy data imports map one to one.
 *
 * D1 enforces foreign keys, so the cascades below are real (the prototype's were not).
 */
import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  primaryKey,
  real,
  sqliteTable,
  text,
  uniqueIndex,
} from 'drizzle-orm/sqlite-core';

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;
const createdAt = () => text('created_at').notNull().default(now);
const updatedAt = () => text('updated_at').notNull().default(now);

// ───────────────────────────── identity (both products) ─────────────────────────────

export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** HMAC-SHA256 of the normalised username, keyed from COUCHSUITE_USERNAME_SECRET. */
    usernameDigest: text('username_digest').notNull(),
    /** AES-GCM ciphertext of the display form (base64url of iv || ciphertext). */
    usernameEnc: text('username_enc').notNull(),
    /** Self-describing hash: `$scrypt$ln=14,r=8,p=5$salt$hash`, `$2b$...` or `$pbkdf2-sha256$...`. */
    passHash: text('pass_hash').notNull(),
    role: text('role', { enum: ['admin', 'user'] }).notNull().default('user'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('users_username_digest_uq').on(t.usernameDigest),
    check('users_role_ck', sql`${t.role} IN ('admin', 'user')`),
  ],
);

/** Failed-login counters per account digest (also for unknown names, so they cost the same). */
export const loginThrottle = sqliteTable('login_throttle', {
  usernameDigest: text('username_digest').primaryKey(),
  failures: integer('failures').notNull().default(0),
  windowStartedAt: text('window_started_at').notNull(),
  lockedUntil: text('locked_until'),
});

/** Refresh sessions (SQL table `auth_sessions`: the DVR design's `sessions`, renamed so nobody confuses them with play sessions). */
export const refreshSessions = sqliteTable(
  'auth_sessions',
  {
    /** The `sid` claim of access tokens issued from this row. */
    id: text('id').primaryKey(),
    /** Every rotation of one login shares a family; replaying a rotated token revokes the family. */
    familyId: text('family_id').notNull(),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** SHA-256 of the refresh token; the token itself is never stored. */
    tokenHash: text('token_hash').notNull(),
    client: text('client', { enum: ['dashboard', 'launcher'] }).notNull(),
    createdAt: createdAt(),
    /** Idle expiry: slides forward at each rotation. */
    expiresAt: text('expires_at').notNull(),
    /** Absolute expiry of the whole family: rotation never extends it. */
    familyExpiresAt: text('family_expires_at').notNull(),
    rotatedAt: text('rotated_at'),
    /** The row that replaced this one at rotation (set in the same batch that inserts it). */
    successorId: text('successor_id'),
    /** The successor's refresh token, AES-GCM sealed under a key derived from THIS row's token (which
     * only its holder has): lets a retry within the grace window get the same successor back. */
    successorSealed: text('successor_sealed'),
    revokedAt: text('revoked_at'),
    revokeReason: text('revoke_reason'),
    ip: text('ip'),
    userAgent: text('user_agent'),
  },
  (t) => [
    uniqueIndex('auth_sessions_token_hash_uq').on(t.tokenHash),
    index('auth_sessions_family_idx').on(t.familyId),
    index('auth_sessions_user_idx').on(t.userId),
    index('auth_sessions_expires_idx').on(t.familyExpiresAt),
  ],
);

/** Append-only record of security-relevant actions. No foreign keys: history outlives its actors. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ts: text('ts').notNull().default(now),
    actorUserId: integer('actor_user_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    orgId: integer('org_id'),
    ip: text('ip'),
    requestId: text('request_id'),
    details: text('details'),
  },
  (t) => [
    index('audit_log_ts_idx').on(t.ts),
    index('audit_log_actor_idx').on(t.actorUserId, t.ts),
    index('audit_log_action_idx').on(t.action, t.ts),
    index('audit_log_org_idx').on(t.orgId, t.ts),
  ],
);

// ───────────────────────────── console: tenancy ─────────────────────────────

export const orgs = sqliteTable(
  'orgs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    /** Allocation policy of the org's OrgAllocator: spread (least loaded) or pack (fill first). */
    allocationPolicy: text('allocation_policy', { enum: ['spread', 'pack'] })
      .notNull()
      .default('spread'),
    maxSessionsPerUser: integer('max_sessions_per_user').notNull().default(1),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('orgs_slug_uq').on(t.slug)],
);

export const memberships = sqliteTable(
  'memberships',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'member'] }).notNull().default('member'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('memberships_org_user_uq').on(t.orgId, t.userId),
    index('memberships_user_idx').on(t.userId),
    check('memberships_role_ck', sql`${t.role} IN ('owner', 'admin', 'member')`),
  ],
);

/** Single-use, expiring invite codes (stored hashed). */
export const orgInvites = sqliteTable(
  'org_invites',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    role: text('role', { enum: ['admin', 'member'] }).notNull().default('member'),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    usedBy: integer('used_by').references(() => users.id, { onDelete: 'set null' }),
    /** Revoked by an admin, or because its creator lost the admin/owner role or left. */
    revokedAt: text('revoked_at'),
    revokeReason: text('revoke_reason'),
  },
  (t) => [
    uniqueIndex('org_invites_code_uq').on(t.codeHash),
    index('org_invites_org_idx').on(t.orgId),
    index('org_invites_creator_idx').on(t.createdBy),
  ],
);

/**
 * An org admin's request that a user (named by username) join the org; the user accepts or
 * declines. Keyed by the username digest, not a user id, and stored whether or not that name
 * exists: the requester's answers and lists look the same either way (no existence oracle).
 */
export const orgMemberRequests = sqliteTable(
  'org_member_requests',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    usernameDigest: text('username_digest').notNull(),
    /** The name as the requester typed it, AES-GCM encrypted like `users.username_enc`. */
    usernameEnc: text('username_enc').notNull(),
    role: text('role', { enum: ['admin', 'member'] }).notNull().default('member'),
    requestedBy: integer('requested_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    expiresAt: text('expires_at').notNull(),
    status: text('status', { enum: ['pending', 'accepted', 'declined', 'cancelled'] }).notNull().default('pending'),
    answeredAt: text('answered_at'),
  },
  (t) => [
    uniqueIndex('org_member_requests_org_digest_uq').on(t.orgId, t.usernameDigest),
    index('org_member_requests_digest_idx').on(t.usernameDigest, t.status),
    check('org_member_requests_status_ck', sql`${t.status} IN ('pending', 'accepted', 'declined', 'cancelled')`),
  ],
);

export const userSettings = sqliteTable('user_settings', {
  userId: integer('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  settingsJson: text('settings_json').notNull().default('{}'),
  updatedAt: updatedAt(),
});

/** Linked store accounts (Steam via OpenID), per org as the CouchServer schema scopes them. */
export const userAccounts = sqliteTable(
  'user_accounts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    accountId: text('account_id').notNull(),
    displayName: text('display_name'),
    metadataJson: text('metadata_json'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('user_accounts_org_user_platform_uq').on(t.orgId, t.userId, t.platform),
    index('user_accounts_platform_account_idx').on(t.platform, t.accountId),
  ],
);

/** OpenID nonces already accepted (replay protection); pruned by housekeeping. */
export const openidNonces = sqliteTable(
  'openid_nonces',
  {
    nonce: text('nonce').primaryKey(),
    seenAt: text('seen_at').notNull().default(now),
  },
  (t) => [index('openid_nonces_seen_idx').on(t.seenAt)],
);

// ───────────────────────────── console: catalog ─────────────────────────────

export const games = sqliteTable(
  'games',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    rating: real('rating'),
    /** Public URL of the cover (`/covers/{key}` for covers stored in R2). */
    coverUrl: text('cover_url'),
    /** R2 key of the cover, when stored here. */
    coverKey: text('cover_key'),
    /** A stub created by the chart scrape, waiting for an admin to enrich it. */
    isStub: integer('is_stub', { mode: 'boolean' }).notNull().default(false),
    /** JSON array of the fields an admin set by hand (`name`, `description`, `cover`, `ratings`): enrichment never writes them. */
    manualFields: text('manual_fields').notNull().default('[]'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('games_slug_uq').on(t.slug), index('games_name_idx').on(t.name)],
);

export const gameExternalIds = sqliteTable(
  'game_external_ids',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    gameId: integer('game_id')
      .notNull()
      .references(() => games.id, { onDelete: 'cascade' }),
    platform: text('platform').notNull(),
    externalId: text('external_id').notNull(),
  },
  (t) => [
    uniqueIndex('game_external_ids_game_platform_uq').on(t.gameId, t.platform),
    // A store id names one game: the chart scrape and Steam verification map appids through this.
    uniqueIndex('game_external_ids_platform_external_uq').on(t.platform, t.externalId),
  ],
);

export const gameRatings = sqliteTable(
  'game_ratings',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    gameId: integer('game_id')
      .notNull()
      .references(() => games.id, { onDelete: 'cascade' }),
    source: text('source'),
    score: real('score'),
    details: text('details'),
  },
  (t) => [index('game_ratings_game_idx').on(t.gameId)],
);

export const apps = sqliteTable('apps', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  moonlightName: text('moonlight_name').notNull(),
  enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
  sortOrder: integer('sort_order').notNull().default(100),
});

export const userApps = sqliteTable(
  'user_apps',
  {
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    appId: text('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    installed: integer('installed', { mode: 'boolean' }).notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.userId, t.appId] })],
);

export const chartsTop10 = sqliteTable(
  'charts_top10',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    chartDate: text('chart_date').notNull(),
    rank: integer('rank').notNull(),
    name: text('name').notNull(),
    steamAppid: integer('steam_appid'),
    gameId: integer('game_id').references(() => games.id, { onDelete: 'set null' }),
    source: text('source').notNull().default('steamcharts'),
    currentPlayers: integer('current_players'),
    peakPlayers: integer('peak_players'),
    hoursPlayed: integer('hours_played'),
  },
  (t) => [
    uniqueIndex('charts_top10_date_rank_uq').on(t.chartDate, t.rank),
    index('idx_charts_date').on(t.chartDate),
  ],
);

/** One row per scrape attempt: the run history admins read and the cron's backoff state. */
export const chartRuns = sqliteTable(
  'chart_runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    chartDate: text('chart_date').notNull(),
    trigger: text('trigger', { enum: ['cron', 'manual', 'retry'] }).notNull(),
    source: text('source'),
    status: text('status', { enum: ['running', 'ok', 'failed'] }).notNull(),
    error: text('error'),
    startedAt: text('started_at').notNull().default(now),
    finishedAt: text('finished_at'),
  },
  (t) => [index('chart_runs_date_idx').on(t.chartDate, t.startedAt)],
);

// ───────────────────────────── console: libraries ─────────────────────────────

export const userGameLibrary = sqliteTable(
  'user_game_library',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    gameId: integer('game_id')
      .notNull()
      .references(() => games.id, { onDelete: 'cascade' }),
    platform: text('platform'),
    externalId: text('external_id'),
    ownershipSource: text('ownership_source').notNull(),
    proofType: text('proof_type'),
    proofValue: text('proof_value'),
    /** Null until a proof is verified (automatically for Steam, by an org admin otherwise). */
    verifiedAt: text('verified_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('user_game_library_org_user_game_uq').on(t.orgId, t.userId, t.gameId),
    index('user_game_library_org_game_idx').on(t.orgId, t.gameId),
  ],
);

/** Every proof behind a library entry; the entry is owned while at least one proof is verified. */
export const libraryProofs = sqliteTable(
  'library_proofs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    entryId: integer('entry_id')
      .notNull()
      .references(() => userGameLibrary.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    proofJson: text('proof_json').notNull(),
    status: text('status', { enum: ['pending', 'verified', 'rejected', 'withdrawn'] })
      .notNull()
      .default('pending'),
    verifiedAt: text('verified_at'),
    reviewedBy: integer('reviewed_by').references(() => users.id, { onDelete: 'set null' }),
    /** The reviewer's note to the player (why a proof was rejected, or anything on approval). */
    reviewNote: text('review_note'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('library_proofs_entry_kind_uq').on(t.entryId, t.kind),
    index('library_proofs_status_idx').on(t.status),
  ],
);

// ───────────────────────────── console: cluster and play ─────────────────────────────

export const clusterNodes = sqliteTable(
  'cluster_nodes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    region: text('region'),
    capacity: integer('capacity'),
    /** Admin intent: active or draining. Liveness is derived from `last_seen`. */
    status: text('status').default('active'),
    streamBaseUrl: text('stream_base_url'),
    /** SHA-256 of the node token; the token is shown once at registration or rotation. */
    tokenHash: text('token_hash'),
    lastSeen: text('last_seen'),
    agentStatus: text('agent_status'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** During a token rollover: the hash of the token the agent held before, valid until it uses the new one. */
    previousTokenHash: text('previous_token_hash'),
    /** Set when an admin asked for a rollover; the agent's next heartbeat receives the new token. */
    tokenRolloverAt: text('token_rollover_at'),
  },
  (t) => [
    uniqueIndex('cluster_nodes_org_name_uq').on(t.orgId, t.name),
    uniqueIndex('cluster_nodes_token_hash_uq').on(t.tokenHash),
    uniqueIndex('cluster_nodes_previous_token_hash_uq').on(t.previousTokenHash),
  ],
);

/** One-time codes an agent exchanges for its node token (`POST /nodes/enrol`); only the hash is kept. */
export const nodeEnrolmentCodes = sqliteTable(
  'node_enrolment_codes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    nodeId: integer('node_id')
      .notNull()
      .references(() => clusterNodes.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    expiresAt: text('expires_at').notNull(),
    usedAt: text('used_at'),
    /** The hash of the token the redemption issued: ties the two statements of the redeeming batch together. */
    issuedTokenHash: text('issued_token_hash'),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('node_enrolment_codes_code_hash_uq').on(t.codeHash), index('node_enrolment_codes_node_idx').on(t.nodeId)],
);

export const downloadedGames = sqliteTable(
  'downloaded_games',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    nodeId: integer('node_id')
      .notNull()
      .references(() => clusterNodes.id, { onDelete: 'cascade' }),
    gameId: integer('game_id')
      .notNull()
      .references(() => games.id, { onDelete: 'cascade' }),
    installPath: text('install_path').notNull(),
    launcher: text('launcher'),
    executable: text('executable'),
    /** `{path, sha256, size, mtime}` as the node agent reported it. */
    proofJson: text('proof_json'),
    lastSeen: text('last_seen').default(now),
  },
  (t) => [
    uniqueIndex('downloaded_games_org_node_game_uq').on(t.orgId, t.nodeId, t.gameId),
    index('downloaded_games_org_game_idx').on(t.orgId, t.gameId),
    index('downloaded_games_node_idx').on(t.nodeId),
  ],
);

export const playSessions = sqliteTable(
  'play_sessions',
  {
    /** Random 53-bit integer: the launcher reads `id` as a number, and ids must not be guessable. */
    id: integer('id').primaryKey(),
    orgId: integer('org_id')
      .notNull()
      .references(() => orgs.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    gameId: integer('game_id')
      .notNull()
      .references(() => games.id, { onDelete: 'cascade' }),
    nodeId: integer('node_id').references(() => clusterNodes.id, { onDelete: 'set null' }),
    region: text('region'),
    status: text('status').notNull().default('provisioning'),
    endReason: text('end_reason'),
    idempotencyKey: text('idempotency_key'),
    lastClientSeen: text('last_client_seen'),
    lastNodeSeen: text('last_node_seen'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    endedAt: text('ended_at'),
    /** Set when the allocator's outbox delivered this row late: 'retried' | 'reconciled' | 'orphan_ended'. */
    mirrorRepair: text('mirror_repair'),
    mirrorRepairedAt: text('mirror_repaired_at'),
  },
  (t) => [
    index('play_sessions_org_status_idx').on(t.orgId, t.status),
    index('play_sessions_node_status_idx').on(t.nodeId, t.status),
    index('play_sessions_user_status_idx').on(t.userId, t.status),
    // Retention deletes finished sessions oldest first.
    index('play_sessions_ended_idx').on(t.endedAt),
  ],
);

// ───────────────────────────── DVR ─────────────────────────────

export const sources = sqliteTable(
  'sources',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    driver: text('driver').notNull(),
    username: text('username').notNull(),
    overseerTaskId: text('overseer_task_id'),
    createdAt: createdAt(),
    // The runtime mirror written by the source's SourceMonitor, so that subscription lists are one
    // query. The monitor's own storage is the source of truth.
    workerState: text('worker_state').notNull().default('idle'),
    pid: integer('pid').notNull().default(0),
    recordingState: text('recording_state'),
    sessionActive: integer('session_active', { mode: 'boolean' }).notNull().default(false),
    sessionStartedAt: text('session_started_at'),
    sessionDuration: text('session_duration'),
    lastHeartbeat: text('last_heartbeat'),
    lastRecordingAt: text('last_recording_at'),
    errorMessage: text('error_message'),
    runtimeUpdatedAt: text('runtime_updated_at'),
  },
  (t) => [uniqueIndex('sources_driver_username_uq').on(t.driver, t.username)],
);

export const subscriptions = sqliteTable(
  'subscriptions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    posture: text('posture', { enum: ['active', 'paused', 'archived'] }).notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('subscriptions_user_source_uq').on(t.userId, t.sourceId),
    index('subscriptions_source_posture_idx').on(t.sourceId, t.posture),
    check('subscriptions_posture_ck', sql`${t.posture} IN ('active', 'paused', 'archived')`),
  ],
);

export const workerEvents = sqliteTable(
  'worker_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    pid: integer('pid').notNull().default(0),
    eventType: text('event_type').notNull(),
    exitCode: integer('exit_code'),
    ts: text('ts').notNull().default(now),
  },
  (t) => [index('worker_events_source_ts_idx').on(t.sourceId, t.ts), index('worker_events_ts_idx').on(t.ts)],
);

/** The DVR config: one JSON row (id = 1). */
export const config = sqliteTable(
  'config',
  {
    id: integer('id').primaryKey(),
    data: text('data').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [check('config_single_row_ck', sql`${t.id} = 1`)],
);

/** Platform switches admins change at run time (e.g. open registration). */
export const platformSettings = sqliteTable('platform_settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: updatedAt(),
});

// ───────────────────────────── DVR: recordings catalog, ingest, retention (issue 16) ─────────────────────────────

/** A media-agent host (one per recorder machine). The enrolment code and the credential are stored
 * only as SHA-256; revoking clears the credential hash, so no token matches it any more. */
export const ingestHosts = sqliteTable(
  'ingest_hosts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    enrolCodeHash: text('enrol_code_hash'),
    enrolExpiresAt: text('enrol_expires_at'),
    tokenHash: text('token_hash'),
    createdBy: integer('created_by'),
    createdAt: createdAt(),
    enrolledAt: text('enrolled_at'),
    revokedAt: text('revoked_at'),
    lastSeen: text('last_seen'),
  },
  (t) => [
    uniqueIndex('ingest_hosts_name_uq').on(t.name),
    uniqueIndex('ingest_hosts_token_hash_uq').on(t.tokenHash),
    uniqueIndex('ingest_hosts_enrol_code_hash_uq').on(t.enrolCodeHash),
  ],
);

/** One recording session of a source (RECORDING START … RECORDING END). */
export const recordingSessions = sqliteTable(
  'recording_sessions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    startedAt: text('started_at').notNull(),
    endedAt: text('ended_at'),
  },
  (t) => [index('recording_sessions_source_started_idx').on(t.sourceId, t.startedAt)],
);

/** The recordings catalog: one row per segment file, the only thing listings and retention read. */
export const recordings = sqliteTable(
  'recordings',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sourceId: integer('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    sessionId: integer('session_id').references(() => recordingSessions.id, { onDelete: 'set null' }),
    segment: integer('segment'),
    /** Path below the source's directory, e.g. `2026-02-18_22-01-31/2026-02-18_22-01-31_00000.ts`. */
    relPath: text('rel_path').notNull(),
    r2Key: text('r2_key').notNull(),
    bytes: integer('bytes').notNull().default(0),
    durationSeconds: real('duration_seconds'),
    startedAt: text('started_at'),
    endedAt: text('ended_at'),
    thumbnailKey: text('thumbnail_key'),
    thumbnailBytes: integer('thumbnail_bytes'),
    state: text('state', { enum: ['recording', 'uploading', 'stored', 'deleted'] }).notNull().default('recording'),
    hostId: integer('host_id').references(() => ingestHosts.id, { onDelete: 'set null' }),
    sha256: text('sha256'),
    storedAt: text('stored_at'),
    deletedAt: text('deleted_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('recordings_source_path_uq').on(t.sourceId, t.relPath),
    index('recordings_source_state_path_idx').on(t.sourceId, t.state, t.relPath),
    index('recordings_state_stored_idx').on(t.state, t.storedAt),
    index('recordings_session_idx').on(t.sessionId),
    check('recordings_state_ck', sql`${t.state} IN ('recording', 'uploading', 'stored', 'deleted')`),
  ],
);

/** A resumable multipart upload into R2 through the control plane (the agent's side of ingest). */
export const ingestUploads = sqliteTable(
  'ingest_uploads',
  {
    id: text('id').primaryKey(),
    recordingId: integer('recording_id')
      .notNull()
      .references(() => recordings.id, { onDelete: 'cascade' }),
    hostId: integer('host_id')
      .notNull()
      .references(() => ingestHosts.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['segment', 'thumbnail'] }).notNull(),
    r2Key: text('r2_key').notNull(),
    r2UploadId: text('r2_upload_id').notNull(),
    size: integer('size').notNull(),
    partSize: integer('part_size').notNull(),
    /** The declared checksum: SHA-256 over the concatenated SHA-256 digests of the parts (docs/dvr.md). */
    sha256: text('sha256').notNull(),
    state: text('state', { enum: ['open', 'completing', 'completed', 'aborted'] }).notNull().default('open'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('ingest_uploads_recording_idx').on(t.recordingId, t.kind, t.state)],
);

export const ingestParts = sqliteTable(
  'ingest_parts',
  {
    uploadId: text('upload_id')
      .notNull()
      .references(() => ingestUploads.id, { onDelete: 'cascade' }),
    partNumber: integer('part_number').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    etag: text('etag').notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);

/** Retention: `source_id` 0 is the global default; a source's own row replaces it entirely. With no
 * row at all nothing is deleted. Any NULL limit is "no limit of that kind". */
export const retentionPolicies = sqliteTable('retention_policies', {
  sourceId: integer('source_id').primaryKey(),
  keepDays: integer('keep_days'),
  keepGb: real('keep_gb'),
  keepSessions: integer('keep_sessions'),
  keepForever: integer('keep_forever', { mode: 'boolean' }).notNull().default(false),
  updatedBy: integer('updated_by'),
  updatedAt: updatedAt(),
});

/** A user's pin on a recording: retention never deletes a pinned recording. */
export const recordingPins = sqliteTable(
  'recording_pins',
  {
    recordingId: integer('recording_id')
      .notNull()
      .references(() => recordings.id, { onDelete: 'cascade' }),
    userId: integer('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.recordingId, t.userId] }), index('recording_pins_user_idx').on(t.userId)],
);

/**
 * Catalog enrichment from the Steam store (`appdetails`), one row per game: the job's state
 * (`queued` → `done` | `not_found` | `failed`, attempts, last error) and the store metadata that has
 * no column on `games` (genres, OS platforms, release date, the art URLs the cover came from).
 */
export const gameEnrichment = sqliteTable(
  'game_enrichment',
  {
    gameId: integer('game_id')
      .primaryKey()
      .references(() => games.id, { onDelete: 'cascade' }),
    source: text('source').notNull().default('steam'),
    externalId: text('external_id').notNull(),
    status: text('status', { enum: ['queued', 'done', 'not_found', 'failed'] }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    genresJson: text('genres_json'),
    osPlatformsJson: text('os_platforms_json'),
    releaseDate: text('release_date'),
    headerUrl: text('header_url'),
    capsuleUrl: text('capsule_url'),
    /** The art URL the current cover was copied from: the same URL is not fetched again. */
    artSourceUrl: text('art_source_url'),
    requestedAt: text('requested_at').notNull(),
    fetchedAt: text('fetched_at'),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('game_enrichment_status_idx').on(t.status),
    check('game_enrichment_status_ck', sql`${t.status} IN ('queued', 'done', 'not_found', 'failed')`),
  ],
);

// ───────────────────────────── metrics (local store) ─────────────────────────────

/**
 * Hourly metric sums, where Workers Analytics Engine is not available (local development, tests;
 * `METRICS_STORE=d1`). One row per hour, metric, org (0 = none) and label set.
 */
export const metricPoints = sqliteTable(
  'metric_points',
  {
    bucket: text('bucket').notNull(),
    name: text('name').notNull(),
    orgId: integer('org_id').notNull().default(0),
    labels: text('labels').notNull().default(''),
    value: real('value').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.name, t.orgId, t.labels] }), index('metric_points_name_bucket_idx').on(t.name, t.bucket)],
);

// ───────────────────────────── device pairing (RFC 8628) ─────────────────────────────

/**
 * Device authorization grants: a TV asks for a code pair, a signed-in user approves the short
 * `user_code` on a phone, the TV exchanges its `device_code` once. The device code is stored only as
 * a hash. After the exchange the row stays as the paired device: `session_id` is the first refresh
 * session of the login it produced, whose family the user can revoke.
 */
export const deviceAuthorizations = sqliteTable(
  'device_authorizations',
  {
    id: text('id').primaryKey(),
    deviceCodeHash: text('device_code_hash').notNull(),
    /** Normalised: 8 characters of BCDFGHJKLMNPQRSTVWXZ, no dash. */
    userCode: text('user_code').notNull(),
    clientName: text('client_name'),
    ip: text('ip'),
    country: text('country'),
    status: text('status', { enum: ['pending', 'approved', 'denied', 'exchanged'] }).notNull().default('pending'),
    /** Who approved or denied it. */
    userId: integer('user_id').references(() => users.id, { onDelete: 'cascade' }),
    /** The org chosen on the phone (checked against the approver's memberships). */
    orgId: integer('org_id').references(() => orgs.id, { onDelete: 'set null' }),
    /** Seconds between polls; grows by 5 at every `slow_down`. */
    intervalSeconds: integer('interval_seconds').notNull().default(5),
    /** The last poll (the creation at first): the next one is due `interval_seconds` after it. */
    lastPolledAt: text('last_polled_at').notNull(),
    createdAt: createdAt(),
    expiresAt: text('expires_at').notNull(),
    decidedAt: text('decided_at'),
    exchangedAt: text('exchanged_at'),
    refreshSessionId: text('session_id').references(() => refreshSessions.id, { onDelete: 'set null' }),
  },
  (t) => [
    uniqueIndex('device_authorizations_device_code_uq').on(t.deviceCodeHash),
    uniqueIndex('device_authorizations_user_code_uq').on(t.userCode),
    index('device_authorizations_user_idx').on(t.userId, t.status),
    index('device_authorizations_expires_idx').on(t.expiresAt),
    check('device_authorizations_status_ck', sql`${t.status} IN ('pending', 'approved', 'denied', 'exchanged')`),
  ],
);

/** Wrong user codes per user (`user:<id>`) and per IP (`ip:<addr>`), in fixed windows: global, unlike
 * the rate-limiting binding. */
export const devicePairingThrottle = sqliteTable('device_pairing_throttle', {
  key: text('key').primaryKey(),
  failures: integer('failures').notNull().default(0),
  windowStartedAt: text('window_started_at').notNull(),
});

/** Per-scope change counters (issue 17, cheap polls): bumped by triggers (migration 0004) in the
 * same statement as every write that changes what a DVR list shows; list routes build their ETag
 * from them and answer 304 without building the list. Scopes: `subscriptions`, `user:<id>`,
 * `sources`, `config`, `users`, `events:<source_id>`. */
export const changeCounters = sqliteTable('change_counters', {
  scope: text('scope').primaryKey(),
  version: integer('version').notNull().default(0),
});

// ───────────────────────────── notifications (webhooks) ─────────────────────────────

/**
 * A webhook endpoint. `scope` says whose events it receives: `user` (DVR events of the sources its
 * owner subscribes to), `org` (console events of `org_id`, registered by an org admin) or `platform`
 * (every event, platform admins). The signing secret is stored AES-GCM encrypted (never in clear).
 */
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    ownerId: integer('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    scope: text('scope', { enum: ['user', 'org', 'platform'] }).notNull(),
    orgId: integer('org_id').references(() => orgs.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    format: text('format', { enum: ['standard', 'discord', 'slack'] }).notNull().default('standard'),
    /** JSON array of event types. */
    events: text('events').notNull(),
    secretEnc: text('secret_enc').notNull(),
    enabled: integer('enabled', { mode: 'boolean' }).notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('webhook_endpoints_owner_idx').on(t.ownerId),
    index('webhook_endpoints_scope_org_idx').on(t.scope, t.orgId),
    check('webhook_endpoints_scope_ck', sql`${t.scope} IN ('user', 'org', 'platform')`),
    check('webhook_endpoints_format_ck', sql`${t.format} IN ('standard', 'discord', 'slack')`),
  ],
);

/**
 * One event for one endpoint: the delivery log. `id` is the `webhook-id` header (the receiver's
 * idempotency key, the same on every attempt). `failed` is the dead-letter record.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventType: text('event_type').notNull(),
    status: text('status', { enum: ['pending', 'retrying', 'succeeded', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    latencyMs: integer('latency_ms'),
    error: text('error'),
    /** The event as queued (JSON), so a lost message can be sent again; NULL on rows older than 0004. */
    eventJson: text('event_json'),
    /** When the sweep re-sent a never-attempted delivery (at most once). */
    requeuedAt: text('requeued_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('webhook_deliveries_endpoint_created_idx').on(t.endpointId, t.createdAt),
    index('webhook_deliveries_created_idx').on(t.createdAt),
    check('webhook_deliveries_status_ck', sql`${t.status} IN ('pending', 'retrying', 'succeeded', 'failed')`),
  ],
);
