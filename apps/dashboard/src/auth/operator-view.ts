import Type from 'typebox';

/** Who is logged in, as `GET /api/session` answers (its own module so the web app can import the type alone). */
export const OperatorView = Type.Object(
  {
    name: Type.String(),
    role: Type.Union([Type.Literal('viewer'), Type.Literal('operator')]),
    expires_at: Type.Union([Type.Integer(), Type.Null()]),
  },
  { additionalProperties: false },
);
