#!/usr/bin/env node
// The local demo's launch hook (see tools/dev-node-agent.mjs): there is no game or streamer on a
// development machine, so this stands in for one. It says what a real hook would start, then stays
// in the foreground like a running game until the agent stops it (the session was ended) or the
// player's session ends. A real hook would run e.g. `steam -applaunch <appid>` or a Sunshine app.
const e = process.env;
console.log(
  `[demo-launch-hook] session ${e.EDGEPLANE_SESSION_ID}: user ${e.EDGEPLANE_USER_ID} plays game ${e.EDGEPLANE_GAME_ID} ` +
    `(${e.EDGEPLANE_EXECUTABLE || e.EDGEPLANE_INSTALL_PATH})`,
);
const stop = (sig) => {
  console.log(`[demo-launch-hook] session ${e.EDGEPLANE_SESSION_ID}: ${sig}, the game closes`);
  process.exit(0);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
setInterval(() => {}, 60_000);
