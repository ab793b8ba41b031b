declare namespace Cloudflare {
  interface Env {
    /** Base URL of the fake overseer's control API (vitest.config.mts). */
    FAKE_OVERSEER_CONTROL: string;
  }
}
