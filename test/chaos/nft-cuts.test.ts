import { describe, expect, it } from 'vitest';
import { requireNft } from '../../chaos/nft-cuts.js';

describe('chaos nftables cuts', () => {
  it('refuse to run without nft, naming the nemeses and the package (never a silent no-op)', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => requireNft(['bridge', 'split-peers'])).toThrow(
        'nemesis bridge, split-peers cut node-to-node traffic with nftables, but `nft` is not installed (apt-get install nftables); install it or leave bridge, split-peers out of --nemesis');
    } finally {
      process.env.PATH = path;
    }
  });
});
