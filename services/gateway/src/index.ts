export { startGateway, type GatewayOptions, type RunningGateway } from './app.js';
export { gatewayEnv, type GatewayEnv } from './env.js';
export { parseTokens, TokenRegistry, type Principal } from './tokens.js';
export { httpStatusOf } from './http-errors.js';
