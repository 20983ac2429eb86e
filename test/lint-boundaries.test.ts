import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The import matrix of shared/DESIGN.md is enforced by eslint.config.js; these cases prove the
// rule fires (a lint rule that silently stopped matching would let the layering rot).
const eslint = new ESLint();

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? 'parse-error');
}

describe('layering lint', () => {
  it('rejects raft/ importing log/', async () => {
    expect(await ruleIds('raft/fake.ts', "import { x } from '../log/fake.js';\nexport const y = x;\n"))
      .toContain('ferry/layer-imports');
  });

  it('rejects log/ importing node/', async () => {
    expect(await ruleIds('log/fake.ts', "export { x } from '../node/fake.js';\n")).toContain('ferry/layer-imports');
  });

  it('rejects clocks, randomness, timers and fs inside raft/', async () => {
    const ids = await ruleIds(
      'raft/fake.ts',
      "import { readFileSync } from 'node:fs';\nexport const t = Date.now() + Math.random();\n" +
        'setTimeout(() => readFileSync("x"), 1);\n',
    );
    expect(ids).toEqual(expect.arrayContaining([
      'no-restricted-imports', 'no-restricted-properties', 'no-restricted-globals',
    ]));
    expect(ids.filter((id) => id === 'no-restricted-properties')).toHaveLength(2);
  });

  it('allows node/ to import log/ and raft/', async () => {
    const code = "import { a } from '../log/fake.js';\nimport { b } from '../raft/fake.js';\nexport const c = [a, b];\n";
    expect(await ruleIds('node/fake.ts', code)).not.toContain('ferry/layer-imports');
  });
});
