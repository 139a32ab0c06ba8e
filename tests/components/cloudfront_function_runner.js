// Runs a CloudFront Function file under Node the way the CloudFront runtime does: the file's top level in a
// fresh context without require/module/process, then handler(event) for each event read as a JSON array from
// stdin. Prints a JSON array of {result} or {error} objects.
'use strict';
const fs = require('fs');
const vm = require('vm');

const source = fs.readFileSync(process.argv[2], 'utf8');
const events = JSON.parse(fs.readFileSync(0, 'utf8'));
const script = new vm.Script(source, { filename: process.argv[2] });

const results = events.map((event) => {
    // A new context per event: no state may survive between invocations.
    const context = vm.createContext({ console: { log: () => {} } });
    try {
        script.runInContext(context);
        return { result: context.handler(event) };
    } catch (err) {
        return { error: String(err) };
    }
});
process.stdout.write(JSON.stringify(results));
