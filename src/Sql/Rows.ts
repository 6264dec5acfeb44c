import { Effect, Schema } from "effect"

/**
 * Decodes database rows into a model class. The fields are decoded as a plain struct and the
 * instance built without validating them a second time: decoding through the class itself costs
 * about twice as much, which dominates list endpoints.
 */
export const rowDecoder = <Self, Fields extends Schema.Struct.Fields>(model: {
  readonly fields: Fields
  new (props: Schema.Struct.Type<Fields>, options: { readonly disableValidation: true }): Self
}) => {
  const decode = Schema.decodeUnknown(Schema.Struct(model.fields) as unknown as Schema.Schema<Schema.Struct.Type<Fields>>)
  return (row: unknown): Effect.Effect<Self> =>
    decode(row).pipe(
      Effect.orDie,
      Effect.map((props) => new model(props, { disableValidation: true }))
    )
}
