const { availableParallelism } = require('node:os');

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
  // One and a half workers per core (jest's default is cores − 1: a single worker on a 2-core machine). Many files
  // wait on loopback servers, child processes and timers part of the time: a third worker on 2 cores keeps both
  // busy (measured on 2 cores, cold: 3 min 13 s with two workers, 3 min 01 s with three). A number, not '150%':
  // jest reads a percentage above 100% as a count of workers.
  maxWorkers: Math.max(2, Math.floor(availableParallelism() * 1.5)),
};
