// Imported first by cli.ts: turns on Node's compile cache for modules loaded from here on
// (undici and friends), so even a direct `node scripts/...` run starts fast the second time.
import { enableCompileCache } from 'node:module'
import { join } from 'node:path'

if (!process.env.NODE_COMPILE_CACHE) enableCompileCache(join(import.meta.dirname, '../../.tools/cache/node-compile'))
