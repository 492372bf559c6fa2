// The console's build (README "Console"): `npm run build` writes dist/, which the gateway
// serves at /console/ (gateway/console.py). Bundles are named by their content hash.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

export default defineConfig({
  base: "/console/",
  plugins: [preact({ prefreshEnabled: false, devToolsEnabled: false })],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2020",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
