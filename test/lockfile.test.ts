import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// npm 11's `npm ci` refuses a lockfile that lacks any optional dependency of a locked package,
// and npm may write such a lockfile when the registry lacks a platform package at the wanted
// version (npm/cli#4828). CI would then fail before running a single test; this finds it first.
interface LockPackage { optionalDependencies?: Record<string, string> }

describe('package-lock.json', () => {
  it('holds every optional (platform) dependency of every locked package, as npm ci requires', () => {
    const lock = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../package-lock.json'), 'utf8')) as {
      packages: Record<string, LockPackage>;
    };
    const missing: string[] = [];
    for (const [where, pkg] of Object.entries(lock.packages)) {
      for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
        // npm resolves a dependency next to its parent first, then up the tree.
        const candidates = [`${where}/node_modules/${dep}`, `node_modules/${dep}`];
        if (!candidates.some((c) => c in lock.packages)) missing.push(`${dep} (wanted by ${where || 'the root'})`);
      }
    }
    expect(missing, 'pin the parent to a version whose platform packages the registry has').toEqual([]);
  });
});
