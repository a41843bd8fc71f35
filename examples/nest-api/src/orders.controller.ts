import { Controller, Get, Header } from '@nestjs/common';
// In your own project: '@nest-token-auth/resource-server/nest'.
import { Principal, Public, Roles } from '../../../resource-server/dist/nest/index.js';

const ORDERS = [
  { id: 'o-1001', item: 'tea', quantity: 2 },
  { id: 'o-1002', item: 'cups', quantity: 6 },
];

/** Every route needs a valid, unrevoked token (the module's global guard) unless @Public(). */
@Controller()
export class OrdersController {
  @Public()
  @Get('health')
  health() {
    return { status: 'ok' };
  }

  @Get('orders')
  list(@Principal() caller: Principal) {
    return { user: caller.sub, orders: ORDERS };
  }

  // A token without the role gets 403 insufficient_scope.
  @Roles('admin')
  @Get('orders/export')
  @Header('Content-Type', 'text/csv')
  export() {
    return ['id,item,quantity', ...ORDERS.map((o) => `${o.id},${o.item},${o.quantity}`)].join('\n');
  }
}
