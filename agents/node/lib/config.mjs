/**
 * Where the agent keeps its settings and secrets, per platform, and how it reads and writes them.
 *
 * - Linux: /etc/edgeplane-node/ when run as root, else ~/.config/edgeplane-node/; state (the proof
 *   cache) in /var/lib/edgeplane-node for the root default, else `<config dir>/state`.
 * - Windows: %ProgramData%\Edgeplane\node\ (config and state).
 * - EDGEPLANE_NODE_CONFIG_DIR overrides the directory (and `--config-dir` on the command line).
 *
 * `config.json` holds non-secret settings (validated with zod on every load); `node-token` holds
 * the node token alone, written atomically with mode 0600 (and an owner-only ACL on Windows), so
 * only the service user can read it. Neither is ever printed.
 *
 *   const dir = configDir();  const cfg = loadConfig(dir);  const token = readToken(cfg);
 *   writeToken(cfg.token_file, 'epn_...');
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { z } from 'zod';

export class ConfigError extends Error {}

const isWindows = process.platform === 'win32';

export function configDir(override) {
  if (override) return override;
  if (process.env.EDGEPLANE_NODE_CONFIG_DIR) return process.env.EDGEPLANE_NODE_CONFIG_DIR;
  if (isWindows) return join(process.env.ProgramData ?? 'C:\\ProgramData', 'Edgeplane', 'node');
  if (process.getuid?.() === 0) return '/etc/edgeplane-node';
  return join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'edgeplane-node');
}

export function defaultStateDir(dir) {
  if (!isWindows && process.getuid?.() === 0 && dir === '/etc/edgeplane-node') return '/var/lib/edgeplane-node';
  return join(dir, 'state');
}

const AbsPath = z.string().min(1).max(1024).refine((p) => isAbsolute(p), 'must be an absolute path');
const Platform = z.string().min(1).max(32).regex(/^[a-z0-9_-]+$/);

const DrmFreeEntry = z.union([
  z.object({ path: AbsPath, executable: z.string().min(1).max(1024), game_id: z.number().int().positive() }).strict(),
  z.object({ path: AbsPath, executable: z.string().min(1).max(1024), platform: Platform, external_id: z.string().min(1).max(200) }).strict(),
]);

export const ConfigSchema = z
  .object({
    api: z.string().url().refine((u) => /^https?:\/\//.test(u), 'http(s) URL'),
    node_id: z.number().int().positive(),
    org_id: z.number().int().positive(),
    node_name: z.string().max(64).optional(),
    jwks_url: z.string().url(),
    session_token: z
      .object({ issuer: z.string().min(1), audience: z.string().min(1), typ: z.string().min(1) })
      .strict(),
    token_file: z.string().min(1).optional(),
    state_dir: z.string().min(1).optional(),
    /** Shell command run per session, with EDGEPLANE_* in its environment; null = refuse sessions. */
    launch_hook: z.string().min(1).max(4096).nullable().default(null),
    stop_grace_seconds: z.number().int().min(0).max(300).default(10),
    libraries: z
      .object({
        /** Steam installation roots (each has steamapps/libraryfolders.vdf); omitted = the platform's usual places. */
        steam: z.array(AbsPath).max(32).optional(),
        /** Epic Games Launcher manifest folders (…/Data/Manifests). */
        epic_manifests: z.array(AbsPath).max(32).optional(),
        /** Folders holding GOG game folders (each with goggame-<id>.info). */
        gog: z.array(AbsPath).max(32).optional(),
        drm_free: z.array(DrmFreeEntry).max(500).default([]),
      })
      .strict()
      .default({ drm_free: [] }),
    /** Main executable per store id when the heuristic picks the wrong file, e.g. {"steam:730": "game/bin/win64/cs2.exe"}. */
    executables: z.record(z.string().regex(/^[a-z0-9_-]+:.+$/), z.string().min(1).max(1024)).default({}),
    rescan_seconds: z.number().int().min(10).max(86_400).default(300),
    max_backoff_seconds: z.number().int().min(5).max(3600).default(300),
  })
  .strict();

export function configFile(dir) {
  return join(dir, 'config.json');
}

/** The validated configuration with defaults and derived paths filled in. */
export function loadConfig(dir) {
  const file = configFile(dir);
  if (!existsSync(file)) throw new ConfigError(`no configuration at ${file}: enrol first (edgeplane-node enroll --api URL --code XXXX-XXXX)`);
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`${file} is not valid JSON: ${e.message}`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`${file}: ${issues}`);
  }
  const cfg = parsed.data;
  return { ...cfg, token_file: cfg.token_file ?? join(dir, 'node-token'), state_dir: cfg.state_dir ?? defaultStateDir(dir), dir };
}

/** Writes JSON settings, keeping what the operator set that enrolment does not own. */
export function saveConfig(dir, values) {
  mkdirSync(dir, { recursive: true });
  const file = configFile(dir);
  let existing = {};
  if (existsSync(file)) {
    try {
      existing = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      existing = {};
    }
  }
  const next = { ...existing, ...values };
  const parsed = ConfigSchema.safeParse(next);
  if (!parsed.success) throw new ConfigError(`refusing to write an invalid ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  atomicWrite(file, JSON.stringify(next, null, 2) + '\n', 0o644);
  return next;
}

const TOKEN_SHAPE = /^epn_[A-Za-z0-9_-]{43}$/;

export function readToken(file) {
  if (!existsSync(file)) throw new ConfigError(`no node token at ${file}: enrol first`);
  const token = readFileSync(file, 'utf8').trim();
  if (!TOKEN_SHAPE.test(token)) throw new ConfigError(`${file} does not hold a node token`);
  return token;
}

/** Owner-only token file, replaced atomically so a crash never leaves half a token. */
export function writeToken(file, token) {
  if (!TOKEN_SHAPE.test(token)) throw new Error('refusing to store something that is not a node token');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  atomicWrite(file, token + '\n', 0o600);
  if (isWindows) restrictWindowsAcl(file);
}

function atomicWrite(file, text, mode) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode); // the umask may have widened or narrowed the create mode
  renameSync(tmp, file);
}

/** Windows ignores POSIX modes: drop inherited ACEs and grant only the current user and SYSTEM. */
function restrictWindowsAcl(file) {
  const user = process.env.USERDOMAIN ? `${process.env.USERDOMAIN}\\${process.env.USERNAME}` : process.env.USERNAME;
  const r = spawnSync('icacls', [file, '/inheritance:r', '/grant:r', `${user}:F`, '*S-1-5-18:F'], { windowsHide: true, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`icacls could not restrict ${file}: ${r.stderr || r.stdout}`);
}
