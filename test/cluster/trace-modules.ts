/**
 * `node --import <this>`: records every module URL the process resolves into
 * the file named by MP_TRACE_MODULES (one per line), through a resolve hook
 * (node:module register). Used to prove that the NATS client is never loaded
 * without service.cluster.
 */
import { register } from 'node:module';

const file = process.env.MP_TRACE_MODULES;
if (file !== undefined && file !== '') register(new URL('./trace-hooks.js', import.meta.url), { data: { file } });
