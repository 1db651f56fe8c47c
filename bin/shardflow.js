#!/usr/bin/env node
// Entry point of the `shardflow` command: registers the TypeScript loader, then runs the CLI.
import { register } from 'tsx/esm/api';

// shardflow targets Node 20 (the platform's runtime); the SDK's notice about its future Node 22
// requirement is known and tracked, and would otherwise be printed by every command.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// The packages every command uses are plain JavaScript: loaded before the loader is registered, their
// hundred-odd files skip its hooks (which would double their load time); later imports find them loaded.
await Promise.all([import('zod'), import('yaml'), import('commander')]);
register();
await import('../cli/main.ts');
