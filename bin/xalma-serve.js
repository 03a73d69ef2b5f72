#!/usr/bin/env node
// Launcher: registers tsx's loader and runs the TypeScript CLI in this same process (no build
// step, and signals such as SIGTERM reach the server directly).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
