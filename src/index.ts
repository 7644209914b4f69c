/**
 * The entry point the runner starts (`dist/index.js`). run() reports every failure itself.
 */
import { run } from './main.js'

void run()
