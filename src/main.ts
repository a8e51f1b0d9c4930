#!/usr/bin/env node
import { main } from './cli/program.js';

// `lookbook [serve|worker|ingest|jobs|reembed]`; with no command (`node dist/src/main.js`) it serves.
void main(process.argv);
