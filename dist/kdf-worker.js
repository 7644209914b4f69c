"use strict";var r=require("node:worker_threads"),a=require("./pfx.js"),o=r.workerData;r.parentPort?.postMessage(o.map(t=>(0,a.derive)({...t,pass:Buffer.from(t.pass),salt:Buffer.from(t.salt)})));
