declare namespace Cloudflare {
  interface Env {
    /** Base URL of the fake overseer's control API (vitest.config.mts). */
    FAKE_OVERSEER_CONTROL: string;
    /** The fleet project's three fakes' control APIs, comma-separated, in OVERSEER_URLS order. */
    FAKE_FLEET_CONTROLS: string;
  }
}
