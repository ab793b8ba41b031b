/**
 * OverseerLink — the single object holding the WebSocket to the recorder fleet (`OVERSEER_URL`).
 * Filled in by the DVR work; for now it reports whether a link is open (never, without a URL).
 */
import { DurableObject } from 'cloudflare:workers';

export class OverseerLink extends DurableObject<Env> {
  private socket: WebSocket | null = null;

  async isConnected(): Promise<boolean> {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }
}
