// Bundles the `terra` CLI into dist/terra.mjs with esbuild (the package's `bin`).
import { build } from "esbuild";

const quiet = process.argv.includes("--quiet");
await build({
  entryPoints: ["cli/main.ts"],
  outfile: process.env.TERRA_BUNDLE ?? "dist/terra.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  banner: { js: "#!/usr/bin/env node\nimport { createRequire as __terraRequire } from 'node:module'; const require = __terraRequire(import.meta.url);" },
  logLevel: quiet ? "warning" : "info",
});
