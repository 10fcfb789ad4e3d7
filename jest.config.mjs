// Jest runs only the testing kit's jest spec (the rest of the suite is vitest): ES modules as
// Nest 12 apps have them (`node --experimental-vm-modules`), against the built package.
export default {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/jest/**/*.jest.test.mjs'],
  transform: {},
};
