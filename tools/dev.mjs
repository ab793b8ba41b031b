// `npm start`: the whole product on http://localhost:8787 with local D1/R2/DOs, migrated and
// seeded (idempotently), secrets generated into .dev.vars when missing.
import { startStack } from './stack.mjs';

// PORT and PERSIST_TO let several local stacks run side by side (each with its own state).
const stack = await startStack({ port: Number(process.env.PORT ?? 8787), persistTo: process.env.PERSIST_TO || undefined });
console.log(`
  Edgeplane is running.
    dashboard  http://localhost:${stack.port}/
    launcher   http://localhost:${stack.port}/launcher/
    API docs   http://localhost:${stack.port}/openapi.json
  Press Ctrl+C to stop.`);
const shutdown = async () => {
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await new Promise(() => {});
