import { describe, expect, it } from 'vitest';
import { assignCategories, type CategorySample } from './category-map.service.js';

const sample = (category: string, count: number, votes: Record<string, number>, namesake?: string): CategorySample => ({
  category,
  namesake,
  count,
  tally: new Map(Object.entries(votes)),
  cast: Object.values(votes).reduce((a, b) => a + b, 0),
});

describe('assignCategories', () => {
  it("gives a label the categories where it has a share of the votes, or that hold a share of the label's items", () => {
    // CLDR-like catalog: bags are a minority of a broad "clothing" but most of the catalog's bags.
    const mapping = assignCategories(
      ['clothing', 'shoes', 'bags', 'office', 'home'],
      [
        sample('clothing', 252, { clothing: 20, shoes: 7, bags: 4, office: 1 }),
        sample('hotel', 6, { bags: 5, home: 1 }),
        sample('office', 126, { office: 20, bags: 1, home: 2 }),
      ],
    );
    expect(mapping.get('clothing')).toEqual(['clothing']);
    expect(mapping.get('shoes')).toEqual(['clothing']); // 22 % of its votes
    // clothing: 4/32 = 12.5 % of its votes, but ~31 of the catalog's ~37 estimated bags; hotel 5/6.
    // office: one vote is not enough, whatever its share.
    expect(mapping.get('bags')).toEqual(['clothing', 'hotel']);
    expect(mapping.get('office')).toEqual(['office']);
    // home: 1 vote in hotel; 2 of 23 in office (9 %) yet the only estimated home items: office.
    expect(mapping.get('home')).toEqual(['office']);
  });

  it('keeps a namesake category, and takes a small category on its only vote', () => {
    const mapping = assignCategories(['shoes', 'bags'], [sample('shoes', 40, { bags: 12 }, 'shoes'), sample('wallets', 1, { bags: 1 })]);
    expect(mapping.get('shoes')).toEqual(['shoes']);
    expect(mapping.get('bags')).toEqual(['shoes', 'wallets']);
  });

  it('gives nothing where nothing was detected', () => {
    expect(assignCategories(['bags'], [sample('misc', 10, {})]).get('bags')).toEqual([]);
  });
});
