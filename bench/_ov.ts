import fs from 'node:fs';
import { encodeBatch, validateBatch } from '../log/index.js';
const batches: Buffer[] = [];
for (let b=0;b<16;b++){ const records=[]; for(let i=0;i<63;i++) records.push({key:Buffer.from(`key-${b}-${i}`), value:Buffer.alloc(1024,(b*31+i)&0xff), timestamp:Date.now()}); batches.push(encodeBatch({records}));}
const mib=1<<20;
const fdatasync=(fd:number)=>new Promise<void>((r,j)=>fs.fdatasync(fd,(e)=>e?j(e):r()));
function writev(fd:number,bufs:Buffer[],pos:number){return new Promise<number>((r,j)=>fs.writev(fd,bufs,pos,(e,n)=>e?j(e):r(n)));}
async function raw(fd:number, bytes:number, st:{pos:number}){ let since=0; for(let w=0;w<bytes;){const b=batches[(w/65536|0)%16]!; fs.writeSync(fd,b,0,b.length,st.pos); st.pos+=b.length; w+=b.length; since+=b.length; if(since>=mib){since=0; await fdatasync(fd);} } }
async function ov(fd:number, bytes:number, st:{pos:number}){
  let pending:Buffer[]=[]; let pendingPos=st.pos; let inflight:Promise<void>|null=null;
  const kick=()=>{ if(inflight||pending.length===0) return; const bufs=pending; const at=pendingPos; let n=0; for(const b of bufs) n+=b.length; pending=[]; pendingPos=at+n; inflight=writev(fd,bufs,at).then((k)=>{ if(k!==n) throw new Error('short'); inflight=null; kick(); }); };
  const drain=async()=>{ while(inflight) await inflight; };
  let since=0; for(let w=0;w<bytes;){const b=batches[(w/65536|0)%16]!; validateBatch(b,1<<24); pending.push(b); kick(); st.pos+=b.length; w+=b.length; since+=b.length; if(since>=mib){since=0; await drain(); await fdatasync(fd);} }
  await drain();
}
const rfd=fs.openSync('.bench-tmp/r.bin','w'), ofd=fs.openSync('.bench-tmp/o.bin','w'); const rs={pos:0}, os={pos:0};
let tr=0,to=0; const slice=8*mib;
for(let i=0;i<32;i++){ let s=performance.now(); await raw(rfd,slice,rs); tr+=performance.now()-s; s=performance.now(); await ov(ofd,slice,os); to+=performance.now()-s; }
console.log('raw', (32*slice/1e6/(tr/1000)).toFixed(0), 'overlapped', (32*slice/1e6/(to/1000)).toFixed(0), 'ratio', (tr/to).toFixed(3));
fs.rmSync('.bench-tmp/r.bin'); fs.rmSync('.bench-tmp/o.bin');
