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
  // One worker per core (jest's default is cores − 1: a single worker on a 2-core machine). Most files wait on
  // loopback servers and timers as much as they compute.
  maxWorkers: '100%',
};
