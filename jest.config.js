/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.html$': '<rootDir>/test/setup/html-transform.js',
    '^.+\\.(t|j|mj)sx?$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@middy|aws-local-stepfunctions)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json', 'html'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  testTimeout: 60000,
};
