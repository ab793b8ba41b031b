/**
 * Types shared by the DVR routers and the two Durable Objects: how a source is addressed, the
 * runtime state a `SourceMonitor` keeps, and the overseer push messages it consumes (contract §5.3).
 *
 *   const ref: SourceRef = { sourceId: 7, driver: 'chaturbate', username: 'alice' };
 *   env.SOURCE_MONITOR.getByName(monitorName(ref)).snapshot(ref);
 */
import type { ServerFrame, ServerFrameOf } from './protocol';

export interface SourceRef {
  sourceId: number;
  driver: string;
  username: string;
}

export type WorkerState = 'idle' | 'starting' | 'running' | 'errored';
export type RecordingState = 'recording' | 'sleeping' | 'idle';

export interface RuntimeState {
  taskId: string;
  workerState: WorkerState;
  pid: number;
  recordingState: RecordingState | null;
  recordingSessionActive: boolean;
  recordingSessionStartedAt: string | null;
  recordingSessionDuration: string | null;
  lastHeartbeat: string | null;
  lastRecordingAt: string | null;
  errorMessage: string | null;
}

export const INITIAL_RUNTIME: RuntimeState = {
  taskId: '',
  workerState: 'idle',
  pid: 0,
  recordingState: null,
  recordingSessionActive: false,
  recordingSessionStartedAt: null,
  recordingSessionDuration: null,
  lastHeartbeat: null,
  lastRecordingAt: null,
  errorMessage: null,
};

/** The object name of a source's monitor. Path segments never contain `/`, so this is unambiguous. */
export function monitorName(ref: Pick<SourceRef, 'driver' | 'username'>): string {
  return `${ref.driver}/${ref.username}`;
}

/** Overseer pushes routed to a monitor (validated by the link: see protocol.ts). */
export type TaskEvent = ServerFrameOf<'started' | 'output' | 'exited' | 'restarting' | 'errored'>;

export const TASK_EVENT_TYPES: ReadonlySet<string> = new Set(['started', 'output', 'exited', 'restarting', 'errored']);

export function isTaskEvent(f: ServerFrame): f is TaskEvent {
  return TASK_EVENT_TYPES.has(f.type);
}

/** A monitor's view of its source: the runtime state and the log tail. */
export interface MonitorSnapshot {
  state: RuntimeState;
  logs: string[];
}

/** The error window a monitor applies (settings.ts `errorWindow`): window in ms (0 = all time)
 * and the unintentional-exit threshold (0 = never). */
export interface ErrorWindowConfig {
  windowMs: number;
  threshold: number;
}

/** A source's progress fields (what heartbeats move), handed by its monitor to the overseer link,
 * which writes them to the D1 mirror batched across sources and confirms `n` back. */
export interface ProgressHandOff {
  n: number;
  lastHeartbeat: string | null;
  sessionDuration: string | null;
}

/** What the link must do after a monitor ingested a group of pushes. */
export interface IngestResult {
  /** The error window was reached: stop these tasks so the overseer does not restart them. */
  stopTaskIds: string[];
  /** Progress changed and only progress: the link owes D1 this write. */
  progress?: ProgressHandOff;
}
