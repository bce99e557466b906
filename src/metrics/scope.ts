// SPDX-License-Identifier: Apache-2.0
import { VERSION } from '../version';

/** The instrumentation scope of everything the agent exports. */
export const SCOPE = { name: 'ebpf-map-pressure', version: VERSION };
