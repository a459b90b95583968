// Decoding cost per event in a real browser (Debian's chromium): the Hub from
// the WebSocket's message to the subscription's listener, one event per frame
// and ten per frame, against JSON.parse of the same line and socket.io-client's
// parsers on what a Socket.IO server sends for the same event.
// Usage: npm run bench:browser [-- N]   (N events per measurement, default 200000)
import { build } from "esbuild";
import { chromium } from "playwright-core";

const n = Number(process.argv[2] ?? 200000);
const { outputFiles } = await build({
  entryPoints: [new URL("./bench-entry.ts", import.meta.url).pathname],
  bundle: true, minify: true, format: "iife", platform: "browser", target: "es2022", write: false,
});
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
});
try {
  const page = await browser.newPage();
  await page.setContent(`<script>${outputFiles[0].text}</script>`);
  const r = await page.evaluate((n) => window.runBench(n), n);
  const v = await browser.version();
  console.log(`Chromium ${v}, ${n} events per row, µs per event (median of 4 rounds after a warm-up round)\n`);
  console.log("| path | µs/event |\n|---|---|");
  console.log(`| Hub: frame → subscription listener, 1 event per frame | ${r.hub1.toFixed(2)} |`);
  console.log(`| Hub: frame → subscription listener, 10 events per frame | ${r.hub10.toFixed(2)} |`);
  console.log(`| JSON.parse of the event line alone | ${r.parse.toFixed(2)} |`);
  console.log(`| socket.io-client parsers (engine.io + socket.io) on the same event | ${r.socketio.toFixed(2)} |`);
} finally {
  await browser.close();
}
