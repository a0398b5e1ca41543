import type { Config } from 'jest';
import { createDefaultEsmPreset } from 'ts-jest';

const esm = createDefaultEsmPreset({ tsconfig: 'tsconfig.json' });
// Sources import siblings as "./x.js" (NodeNext); jest resolves them to the .ts files.
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };

const config: Config = {
  projects: [
    {
      displayName: 'unit',
      ...esm,
      moduleNameMapper,
      testMatch: ['<rootDir>/__tests__/**/*.test.ts'],
      testPathIgnorePatterns: ['<rootDir>/__tests__/integration/', '<rootDir>/__tests__/lab/'],
    },
    {
      displayName: 'integration',
      ...esm,
      moduleNameMapper,
      testMatch: ['<rootDir>/__tests__/integration/**/*.test.ts'],
    },
    {
      displayName: 'lab',
      ...esm,
      moduleNameMapper,
      testMatch: ['<rootDir>/__tests__/lab/**/*.test.ts'],
    },
  ],
};

export default config;
