/**
 * Sample websites and knowledge: a fictional outdoor shop (primary) and a café, so a fresh
 * emulator answers "What are your business hours?" sensibly and website scoping is visible.
 */
import type { WebsiteRecord } from './state.js';

/** The websites every emulator account has. */
export function seedWebsites(): WebsiteRecord[] {
  return [
    { id: 1, name: 'Northwind Outfitters', domain: 'northwind-outfitters.example', is_primary: true },
    { id: 2, name: 'Harbor Lane Coffee', domain: 'harborlane-coffee.example', is_primary: false },
  ];
}

/** Sample text entries per website. */
export const SEED_KNOWLEDGE: ReadonlyArray<{ websiteId: number; title: string; content: string }> = [
  {
    websiteId: 1,
    title: 'Business Hours',
    content:
      'Our business hours are Monday to Friday, 9 AM to 6 PM, and Saturday, 10 AM to 4 PM (Eastern Time). ' +
      'We are closed on Sundays and on public holidays. ' +
      'Online orders can be placed at any time, day or night.',
  },
  {
    websiteId: 1,
    title: 'Returns and Refunds',
    content:
      'You can return unused items within 30 days of delivery for a full refund. ' +
      'Start a return from the Orders page of your account and print the prepaid return label. ' +
      'Refunds are issued to the original payment method within 5 business days after the return arrives. ' +
      'Sale items marked "final sale" cannot be returned.',
  },
  {
    websiteId: 1,
    title: 'Shipping and Delivery',
    content:
      'Standard shipping takes 3 to 5 business days and is free on orders over $75; below that it costs $6.95. ' +
      'Express shipping delivers in 1 to 2 business days for $14.95. ' +
      'We ship to the United States and Canada. You get a tracking link by email as soon as your order leaves the warehouse.',
  },
  {
    websiteId: 1,
    title: 'Pricing and Membership',
    content:
      'Trail Club membership costs $29 a year and gives 10% off every order, free express shipping and early access to sales. ' +
      'We match the price of any authorised retailer within 14 days of purchase. ' +
      'Gift cards are available from $25 to $500.',
  },
  {
    websiteId: 1,
    title: 'Contact Us',
    content:
      'You can reach our support team by email at help@northwind-outfitters.example or by phone at +1 555 010 2030 during business hours. ' +
      'Our flagship store is at 120 Harbor Street, Portland, Maine.',
  },
  {
    websiteId: 2,
    title: 'Opening Hours',
    content:
      'Harbor Lane Coffee is open every day from 7 AM to 7 PM, including weekends. ' +
      'On public holidays we open at 8 AM and close at 3 PM.',
  },
  {
    websiteId: 2,
    title: 'Menu',
    content:
      'We serve espresso drinks, pour-over coffee, loose-leaf teas and fresh pastries baked every morning. ' +
      'Oat, almond and soy milk are available at no extra charge.',
  },
];
