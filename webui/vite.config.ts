/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies the API of a running stack (MF_API_URL, e.g. from .run/env).
const api = process.env.MF_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // Content-hashed files under /assets/ are served as immutable by mf-api.
    assetsDir: 'assets',
    // No inline <script> or <style>: the pages run under a 'self'-only CSP.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // The lazily loaded graph chunk (Cytoscape.js + dagre) is about 550 KB before gzip.
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { '/api': api, '/auth': api },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.tsx', 'src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
    testTimeout: 20000,
  },
});
