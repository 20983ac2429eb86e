#!/usr/bin/env node
// The `ferry` CLI: runs client/cli/main.ts through tsx (Ferry ships TypeScript, no build step).
import { register } from 'tsx/esm/api';

register();
await import('../client/cli/main.ts');
