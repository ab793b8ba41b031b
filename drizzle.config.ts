import { defineConfig } from 'drizzle-kit';

// drizzle-kit 0.31 writes flat `NNNN_name.sql` files, the layout wrangler and readD1Migrations read.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './migrations',
});
