export * from './constants.js';
export * from './errors.js';
export * from './nack.js';
export * from './response.js';
export * from './frame.js';
export * from './key.js';
export * from './match.js';
