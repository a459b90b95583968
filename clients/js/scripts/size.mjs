// Bundle size of the browser client against socket.io-client's: each bundled the
// same way (esbuild, ESM, minified, browser, ES2022, tree-shaken from one import),
// then gzip -9. Usage: npm run size
import { build } from "esbuild";
import { gzipSync, brotliCompressSync } from "node:zlib";
import { readFileSync } from "node:fs";

const here = new URL("..", import.meta.url).pathname;
const sioDir = here + "node_modules/socket.io-client/";

async function measure(name, contents) {
  const { outputFiles } = await build({
    stdin: { contents, resolveDir: here, loader: "ts" },
    bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022", write: false,
  });
  const b = Buffer.from(outputFiles[0].contents);
  return { name, min: b.length, gzip: gzipSync(b, { level: 9 }).length, brotli: brotliCompressSync(b).length };
}

const rows = [
  await measure("@actorhub/client: Hub (subscribe, outbox, reconnect)", `export { Hub } from "./src/index.ts";`),
  await measure("@actorhub/client: Hub + Worker + storages + protocol constants", `export * from "./src/index.ts";`),
  await measure(`socket.io-client ${JSON.parse(readFileSync(sioDir + "package.json", "utf8")).version}: io`, `export { io } from "socket.io-client";`),
];
const dist = readFileSync(sioDir + "dist/socket.io.min.js");
rows.push({ name: "socket.io-client: dist/socket.io.min.js as shipped", min: dist.length, gzip: gzipSync(dist, { level: 9 }).length, brotli: brotliCompressSync(dist).length });
console.log("| bundle | min bytes | gzip -9 | brotli | gzip vs socket.io-client's io |\n|---|---|---|---|---|");
const sio = rows[2].gzip;
for (const r of rows) console.log(`| ${r.name} | ${r.min} | ${r.gzip} | ${r.brotli} | ${(r.gzip / sio).toFixed(2)}× |`);
