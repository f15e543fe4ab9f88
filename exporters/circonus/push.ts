/** circonus mode push: HTTPTrap (filled in by issue 3's store helper work). */
import type { CreateSettings, Exporter } from '../../src/component.js';
import type { CirconusConfig } from './factory.js';

export function createCirconusPush(_set: CreateSettings, _cfg: CirconusConfig): Exporter {
  throw new Error('circonus mode push: under construction');
}
