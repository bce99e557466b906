import t from 'tap';
import { decodeMapName } from '../src/records';

t.test('decodeMapName escapes what is not printable ASCII', async (t) => {
  t.equal(decodeMapName(Buffer.from('h1\0\0')), 'h1');
  t.equal(decodeMapName(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x78])), 'caf\\xe9x');
});
