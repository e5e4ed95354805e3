/**
 * The demo shop `npm start` loads into an empty database: generated here, deterministically from a
 * seed, so no third-party data set is shipped. 20 named categories × 25 products (500 items, ids
 * like `hiking-007`, titles like "Alpine Trekking Poles", the category as the item's one category
 * and in the metadata) and 2,000 users `demo-1` … `demo-2000`, each with 1–3 planted favourite categories.
 *
 * Feedback is implicit — purchase counts — because that is what a shop actually records: nobody
 * rates a tent in stars, but the order history says who bought what and how often. Each user makes
 * 12–30 purchases; 85% fall in a favourite category (the favourites chosen uniformly), the rest
 * anywhere (noise, like gifts). Inside a category, products follow a Zipf-like popularity curve
 * (weight ∝ 1/(rank+1)^0.8), so there are bestsellers. A repeat purchase raises the count.
 * With the defaults: 42,032 purchases in 31,942 (user, item, count) rows.
 *
 * Pure: no I/O. src/demo/load.ts writes it through the ratings store.
 */
import { mulberry32 } from '../training/random.js';

export interface DemoCategory {
  readonly id: string;
  readonly name: string;
  /** Adjectives that prefix the products' names, the first 10 products use the first, … */
  readonly styles: readonly [string, string, string];
  readonly products: readonly string[];
}

export const DEMO_CATEGORIES: readonly DemoCategory[] = [
  {
    id: 'hiking',
    name: 'Hiking',
    styles: ['Trail', 'Alpine', 'Summit'],
    products: [
      'Backpack',
      'Trekking Poles',
      'Hiking Boots',
      'Rain Jacket',
      'Headlamp',
      'Water Filter',
      'Gaiters',
      'Map Case',
      'Compass',
      'Hydration Bladder',
    ],
  },
  {
    id: 'camping',
    name: 'Camping',
    styles: ['Basecamp', 'Ultralight', 'Family'],
    products: ['Tent', 'Sleeping Bag', 'Sleeping Pad', 'Camp Stove', 'Lantern', 'Cook Set', 'Camp Chair', 'Cooler', 'Hammock', 'Tarp'],
  },
  {
    id: 'running',
    name: 'Running',
    styles: ['Tempo', 'Marathon', 'Sprint'],
    products: [
      'Running Shoes',
      'Running Shorts',
      'GPS Watch',
      'Running Socks',
      'Hydration Vest',
      'Reflective Vest',
      'Energy Gels',
      'Armband',
      'Compression Tights',
      'Running Cap',
    ],
  },
  {
    id: 'cycling',
    name: 'Cycling',
    styles: ['Road', 'Gravel', 'Commuter'],
    products: [
      'Bike Helmet',
      'Cycling Gloves',
      'Bike Lights',
      'Saddle Bag',
      'Mini Pump',
      'Bike Lock',
      'Cycling Jersey',
      'Water Bottle Cage',
      'Chain Lube',
      'Bike Computer',
    ],
  },
  {
    id: 'kitchen',
    name: 'Kitchen',
    styles: ['Chef', 'Everyday', 'Copper'],
    products: [
      "Chef's Knife",
      'Cutting Board',
      'Cast Iron Skillet',
      'Saucepan',
      'Mixing Bowls',
      'Kitchen Scale',
      'Spatula Set',
      'Dutch Oven',
      'Knife Sharpener',
      'Baking Sheet',
    ],
  },
  {
    id: 'coffee',
    name: 'Coffee',
    styles: ['Barista', 'Morning', 'Single-Origin'],
    products: [
      'Burr Grinder',
      'Pour-Over Dripper',
      'French Press',
      'Espresso Beans',
      'Gooseneck Kettle',
      'Milk Frother',
      'Coffee Filters',
      'Travel Mug',
      'Moka Pot',
      'Cold Brew Jar',
    ],
  },
  {
    id: 'books',
    name: 'Books',
    styles: ['Paperback', 'Hardcover', 'Collected'],
    products: [
      'Mystery Novel',
      'Science Fiction Saga',
      'History of Rome',
      'Poetry Anthology',
      'Cookbook',
      'Biography',
      'Fantasy Trilogy',
      'Travel Guide',
      'Philosophy Primer',
      'Short Stories',
    ],
  },
  {
    id: 'gaming',
    name: 'Gaming',
    styles: ['Pro', 'Wireless', 'RGB'],
    products: [
      'Controller',
      'Gaming Headset',
      'Mechanical Keyboard',
      'Gaming Mouse',
      'Mouse Pad',
      'Capture Card',
      'Racing Wheel',
      'Game Chair Cushion',
      'Console Stand',
      'Charging Dock',
    ],
  },
  {
    id: 'camera',
    name: 'Camera',
    styles: ['Studio', 'Travel', 'Vintage'],
    products: [
      'Prime Lens',
      'Tripod',
      'Camera Bag',
      'Memory Card',
      'Lens Filter',
      'Camera Strap',
      'Spare Battery',
      'Flash',
      'Lens Cleaning Kit',
      'Remote Shutter',
    ],
  },
  {
    id: 'garden',
    name: 'Garden',
    styles: ['Cottage', 'Balcony', 'Heirloom'],
    products: [
      'Pruning Shears',
      'Watering Can',
      'Seed Starter Kit',
      'Garden Gloves',
      'Raised Bed',
      'Compost Bin',
      'Hose Nozzle',
      'Trowel',
      'Plant Pots',
      'Tomato Seeds',
    ],
  },
  {
    id: 'baby',
    name: 'Baby',
    styles: ['Cozy', 'Organic', 'Little'],
    products: [
      'Baby Carrier',
      'Swaddle Blanket',
      'Teething Ring',
      'Baby Monitor',
      'Diaper Bag',
      'Bottle Set',
      'Bath Tub',
      'Play Mat',
      'Bibs',
      'Night Light',
    ],
  },
  {
    id: 'yoga',
    name: 'Yoga',
    styles: ['Zen', 'Flow', 'Studio'],
    products: [
      'Yoga Mat',
      'Yoga Blocks',
      'Yoga Strap',
      'Meditation Cushion',
      'Mat Bag',
      'Bolster',
      'Leggings',
      'Mat Cleaner',
      'Balance Ball',
      'Foam Roller',
    ],
  },
  {
    id: 'music',
    name: 'Music',
    styles: ['Acoustic', 'Stage', 'Practice'],
    products: [
      'Guitar Strings',
      'Capo',
      'Guitar Tuner',
      'Metronome',
      'Guitar Strap',
      'Picks',
      'Music Stand',
      'Ukulele',
      'Instrument Cable',
      'Studio Headphones',
    ],
  },
  {
    id: 'art',
    name: 'Art Supplies',
    styles: ['Artist', 'Sketch', 'Watercolor'],
    products: [
      'Paint Set',
      'Brush Set',
      'Sketchbook',
      'Easel',
      'Pastels',
      'Canvas Pack',
      'Palette',
      'Ink Pens',
      'Colored Pencils',
      'Drawing Board',
    ],
  },
  {
    id: 'pets',
    name: 'Pets',
    styles: ['Happy', 'Outdoor', 'Comfort'],
    products: [
      'Dog Leash',
      'Cat Scratcher',
      'Pet Bed',
      'Chew Toy',
      'Food Bowl',
      'Grooming Brush',
      'Pet Carrier',
      'Treat Pouch',
      'Litter Mat',
      'Dog Harness',
    ],
  },
  {
    id: 'fitness',
    name: 'Home Fitness',
    styles: ['Power', 'Home Gym', 'Core'],
    products: [
      'Dumbbells',
      'Kettlebell',
      'Resistance Bands',
      'Pull-Up Bar',
      'Jump Rope',
      'Ab Wheel',
      'Weight Bench',
      'Workout Gloves',
      'Exercise Mat',
      'Push-Up Handles',
    ],
  },
  {
    id: 'tea',
    name: 'Tea',
    styles: ['Loose-Leaf', 'Ceremonial', 'Herbal'],
    products: ['Green Tea', 'Teapot', 'Tea Infuser', 'Matcha Whisk', 'Oolong', 'Tea Cups', 'Chai Blend', 'Tea Tin', 'Earl Grey', 'Rooibos'],
  },
  {
    id: 'travel',
    name: 'Travel',
    styles: ['Carry-On', 'Globetrotter', 'Weekend'],
    products: [
      'Suitcase',
      'Packing Cubes',
      'Neck Pillow',
      'Travel Adapter',
      'Toiletry Bag',
      'Passport Wallet',
      'Luggage Tag',
      'Duffel Bag',
      'Eye Mask',
      'Luggage Scale',
    ],
  },
  {
    id: 'swimming',
    name: 'Swimming',
    styles: ['Lap', 'Open-Water', 'Pool'],
    products: ['Swim Goggles', 'Swim Cap', 'Kickboard', 'Pull Buoy', 'Swim Fins', 'Towel', 'Earplugs', 'Wetsuit', 'Swimsuit', 'Dry Bag'],
  },
  {
    id: 'office',
    name: 'Home Office',
    styles: ['Ergonomic', 'Minimal', 'Executive'],
    products: [
      'Desk Lamp',
      'Monitor Stand',
      'Notebook',
      'Fountain Pen',
      'Desk Organizer',
      'Laptop Stand',
      'Wrist Rest',
      'Cable Tray',
      'Whiteboard',
      'Webcam',
    ],
  },
];

export const PRODUCTS_PER_CATEGORY = 25;

export interface DemoItem {
  readonly id: string;
  readonly title: string;
  /** The product's one category id (the rules' category filter and maxPerCategory read it). */
  readonly categories: readonly [string];
  readonly metadata: { readonly category: string; readonly categoryName: string; readonly price: number };
}

export interface DemoUser {
  readonly id: string;
  /** Planted favourite category ids (1–3). */
  readonly favourites: readonly string[];
}

export interface DemoPurchase {
  readonly user: string;
  readonly item: string;
  /** Number of times bought (implicit feedback). */
  readonly value: number;
}

export interface DemoShop {
  readonly seed: number;
  readonly categories: readonly DemoCategory[];
  readonly items: readonly DemoItem[];
  readonly users: readonly DemoUser[];
  readonly purchases: readonly DemoPurchase[];
}

export interface DemoOptions {
  /** default 2000 */
  readonly users?: number;
  /** default 42 */
  readonly seed?: number;
  /** Share of purchases inside a favourite category (default 0.85). */
  readonly focus?: number;
  /** Purchases per user, inclusive range (default [12, 30]). */
  readonly purchases?: readonly [number, number];
}

export function demoItemId(category: string, n: number): string {
  return `${category}-${String(n + 1).padStart(3, '0')}`;
}

/** The shop's catalogue: 25 products a category, titles "<style> <product>". */
export function demoItems(categories: readonly DemoCategory[] = DEMO_CATEGORIES): DemoItem[] {
  const items: DemoItem[] = [];
  for (const c of categories) {
    for (let n = 0; n < PRODUCTS_PER_CATEGORY; n++) {
      const style = c.styles[Math.floor(n / c.products.length)] ?? c.styles[2];
      const product = c.products[n % c.products.length]!;
      // A made-up but stable price: 5.99 … 204.99.
      const price = 5.99 + ((n * 37 + c.id.length * 11) % 200);
      items.push({
        id: demoItemId(c.id, n),
        title: `${style} ${product}`,
        categories: [c.id],
        metadata: { category: c.id, categoryName: c.name, price: Math.round(price * 100) / 100 },
      });
    }
  }
  return items;
}

/** Draws an index in [0, weights.length) with probability ∝ weights (cumulative weights given). */
function drawCumulative(cumulative: Float64Array, rand: () => number): number {
  const total = cumulative[cumulative.length - 1]!;
  const x = rand() * total;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function generateDemoShop(options: DemoOptions = {}): DemoShop {
  const nUsers = options.users ?? 2000;
  const seed = options.seed ?? 42;
  const focus = options.focus ?? 0.85;
  const [minBuys, maxBuys] = options.purchases ?? [12, 30];
  if (!Number.isInteger(nUsers) || nUsers < 1) throw new RangeError(`users must be a positive integer, got ${nUsers}`);
  if (!(focus >= 0 && focus <= 1)) throw new RangeError(`focus must be in [0, 1], got ${focus}`);
  if (!(Number.isInteger(minBuys) && Number.isInteger(maxBuys) && minBuys >= 1 && maxBuys >= minBuys)) {
    throw new RangeError(`purchases must be integers 1 <= min <= max, got [${minBuys}, ${maxBuys}]`);
  }
  const rand = mulberry32(seed);
  const categories = DEMO_CATEGORIES;
  const items = demoItems(categories);
  const nCat = categories.length;

  // Zipf-like popularity inside a category: weight(rank) = 1 / (rank + 1)^0.8, cumulative.
  const cumulative = new Float64Array(PRODUCTS_PER_CATEGORY);
  let acc = 0;
  for (let r = 0; r < PRODUCTS_PER_CATEGORY; r++) {
    acc += 1 / Math.pow(r + 1, 0.8);
    cumulative[r] = acc;
  }
  // Each category ranks its products in its own shuffled order, so bestsellers are not always -001.
  const rankToProduct = categories.map(() => {
    const order = Array.from({ length: PRODUCTS_PER_CATEGORY }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  });

  const users: DemoUser[] = [];
  const purchases: DemoPurchase[] = [];
  for (let u = 0; u < nUsers; u++) {
    const id = `demo-${u + 1}`;
    const nFav = 1 + Math.floor(rand() * 3);
    const fav: number[] = [];
    while (fav.length < nFav) {
      const c = Math.floor(rand() * nCat);
      if (!fav.includes(c)) fav.push(c);
    }
    users.push({ id, favourites: fav.map((c) => categories[c]!.id) });

    const counts = new Map<number, number>();
    const buys = minBuys + Math.floor(rand() * (maxBuys - minBuys + 1));
    for (let b = 0; b < buys; b++) {
      const c = rand() < focus ? fav[Math.floor(rand() * fav.length)]! : Math.floor(rand() * nCat);
      const product = rankToProduct[c]![drawCumulative(cumulative, rand)]!;
      const item = c * PRODUCTS_PER_CATEGORY + product;
      counts.set(item, (counts.get(item) ?? 0) + 1);
    }
    for (const [item, count] of [...counts].sort((a, b) => a[0] - b[0])) {
      purchases.push({ user: id, item: items[item]!.id, value: count });
    }
  }
  return { seed, categories, items, users, purchases };
}

/** The category id of a demo item id (`hiking-007` → `hiking`), or null for anything else. */
export function demoCategoryOf(itemId: string): string | null {
  const m = /^([a-z]+)-\d{3}$/.exec(itemId);
  return m ? m[1]! : null;
}
